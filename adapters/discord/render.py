"""Results as Discord messages: embeds for indicator cards, persistent buttons, plain text for the rest.

Every user-supplied string goes through `esc` (markdown escaped, mentions neutralised) or `code` (inside a
code span, backticks replaced); the client and every send also use `AllowedMentions.none()`, so nothing
the bot posts can ping anyone. Buttons carry the core's action ids (`ioc:vote:42:confirm`) as custom ids.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

import discord

from bot import results as r
from bot.text import (
    ALSO_RESTRICTED,
    comment_lines,
    context_line,
    dates_line,
    known_text,
    not_applied_lines,
    of_total,
    plain,
    related_lines,
    render,
    sighting_head,
    submitted_head,
    tally_text,
)
from bot.tlp import TLP

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 5800  # Discord's limit over all embeds of a message is 6000 characters
FOOTER_PREFIX = "Coalition Bot · indicator "
_FOOTER_ID = re.compile(re.escape(FOOTER_PREFIX) + r"#(\d+)")

TLP_COLOURS = {  # FIRST TLP 2.0 colours
    TLP.CLEAR: 0xFFFFFF,
    TLP.GREEN: 0x33FF00,
    TLP.AMBER: 0xFFC000,
    TLP.AMBER_STRICT: 0xFFC000,
    TLP.RED: 0xFF2B2B,
}
_STYLES = {"primary": discord.ButtonStyle.primary, "danger": discord.ButtonStyle.danger,
           "default": discord.ButtonStyle.secondary}
MENTIONS = discord.AllowedMentions.none()


# Every ASCII character Discord's markdown gives a meaning to: emphasis, strike, spoilers, code, quotes,
# headings and `-#` subtext, lists, masked links, mentions, channel links, roles, timestamps, emoji. Discord
# shows any punctuation after a backslash as itself, so each one is escaped wherever it stands.
_MARKDOWN = re.compile(r"([\\*_~|`>#\-+\[\]()<@:])")
_ORDERED = re.compile(r"^(\s*\d+)\.")


def esc(text: str) -> str:
    """User text for Discord markdown, shown as its literal characters: nothing invisible (`bot.text.visible`:
    zero-width and bidirectional controls shown as `<U+202E>`, one line), every markdown character escaped
    with a backslash (`**`, `__`, `~~`, `||`, code, `<#123>`, `<@123>`, `<@&1>`, `@everyone`, `[x](y)`,
    `# `, `-# `, `- `, `1. `). Nothing pings in any case: every send uses `AllowedMentions.none()`."""
    return _ORDERED.sub(r"\1\\.", _MARKDOWN.sub(r"\\\1", plain(text)))


def code(text: str, limit: int = 900) -> str:
    """A value in a code span: shown verbatim (no markdown, no links), backticks neutralised."""
    shown = plain(text).replace("`", "ˋ")
    if len(shown) > limit:
        shown = shown[:limit] + "…"
    return f"`{shown}`"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def card_embed(card: r.IndicatorCard, *, headline: str = "", key: str = "") -> discord.Embed:
    ind = card.indicator
    embed = discord.Embed(title=_clip(f"{ind.ref} · {ind.type.value}" + (f" · {esc(headline)}" if headline else ""),
                                      256),
                          description=code(ind.value), colour=TLP_COLOURS.get(ind.tlp, 0x99AAB5))
    embed.add_field(name="Status", value=card.status.value
                    + (f" · score {card.score}" if card.score is not None else ""))
    embed.add_field(name="TLP", value=ind.tlp.label)
    embed.add_field(name="Confidence", value=str(ind.confidence))
    embed.add_field(name="From", value=_clip(esc(card.org_shown) or "a coalition member", 1024))
    embed.add_field(name="Votes", value=tally_text(card.tally))
    embed.add_field(name="Sightings", value=f"{card.sightings.count} ({card.sightings.orgs} orgs)")
    if ind.tags:
        embed.add_field(name="Tags", value=_clip(esc(", ".join(ind.tags)), 1024), inline=False)
    if ind.note:
        embed.add_field(name="Note", value=_clip(esc(ind.note), 1024), inline=False)
    if about := context_line(ind, esc, url=lambda u: code(u, 300)):
        embed.add_field(name="Context", value=_clip(about, 1024), inline=False)
    embed.add_field(name="Dates", value=dates_line(card), inline=False)
    if card.comment_count:
        embed.add_field(name="Comments", value=_clip("\n".join(comment_lines(card, esc)), 1024), inline=False)
    if ind.status_reason:
        embed.add_field(name="Reason", value=_clip(esc(ind.status_reason), 1024), inline=False)
    if card.warnings:
        embed.add_field(name="Warning", value=_clip("on warninglist " + esc("; ".join(card.warnings)), 1024),
                        inline=False)
    if card.also_restricted:
        embed.add_field(name="Also held", value=ALSO_RESTRICTED, inline=False)
    embed.set_footer(text=f"{FOOTER_PREFIX}{ind.ref}" + (f" · delivery {key}" if key else ""))
    return embed


def indicator_id_of(embed: discord.Embed) -> int | None:
    """Which indicator a card embed the bot posted shows (its footer), or None."""
    m = _FOOTER_ID.match(embed.footer.text or "") if embed.footer else None
    return int(m.group(1)) if m else None


def card_view(cards: list[r.IndicatorCard] | tuple[r.IndicatorCard, ...]) -> discord.ui.View | None:
    """One row of buttons per card (at most 5 cards), each a persistent dynamic item."""
    from adapters.discord.buttons import CardButton

    view = discord.ui.View(timeout=None)
    labelled = len(cards) > 1
    for row, card in enumerate(c for c in cards if c.buttons):
        if row >= 5:
            break
        for button in card.buttons[:5]:
            label = f"{button.label} {card.indicator.ref}" if labelled else button.label
            view.add_item(CardButton.make(button.action_id, label, _STYLES.get(button.style,
                                                                               discord.ButtonStyle.secondary), row))
    return view if view.children else None


@dataclass
class Message:
    """What to send: text, embeds, buttons, files. `cards` are the indicator cards shown (for live updates)."""

    content: str = ""
    embeds: list[discord.Embed] = field(default_factory=list)
    view: discord.ui.View | None = None
    files: list[tuple[str, bytes]] = field(default_factory=list)
    cards: list[r.IndicatorCard] = field(default_factory=list)

    def kwargs(self) -> dict:
        kw: dict = {"content": self.content or None, "embeds": self.embeds, "allowed_mentions": MENTIONS}
        if self.view is not None:
            kw["view"] = self.view
        if self.files:
            kw["files"] = [discord.File(io.BytesIO(data), filename=name) for name, data in self.files]
        return kw

    def edit_kwargs(self) -> dict:
        return {"content": self.content or None, "embeds": self.embeds, "view": self.view,
                "allowed_mentions": MENTIONS}


def cards_message(cards: list[r.IndicatorCard] | tuple[r.IndicatorCard, ...], head: str = "",
                  tail: list[str] | None = None) -> Message:
    msg = Message()
    total = 0
    shown: list[r.IndicatorCard] = []
    for card in cards:
        embed = card_embed(card)
        size = len(embed)
        if len(shown) >= MAX_EMBEDS or total + size > MAX_EMBED_TOTAL:
            break
        msg.embeds.append(embed)
        shown.append(card)
        total += size
    lines = [head] if head else []
    if len(shown) < len(cards):
        rest = cards[len(shown):]
        lines.append(f"and {len(rest)} more: " + ", ".join(c.indicator.ref for c in rest[:50])
                     + (" …" if len(rest) > 50 else ""))
    lines += tail or []
    msg.content = _clip("\n".join(lines), MAX_CONTENT)
    msg.cards = shown
    msg.view = card_view(shown)
    return msg


def text_message(text: str) -> Message:
    """Plain text: in the message up to 2,000 characters, in an embed up to 4,096, else as a file."""
    if len(text) <= MAX_CONTENT:
        return Message(content=text)
    if len(text) <= 4096:
        return Message(embeds=[discord.Embed(description=text)])
    return Message(content="The answer is long: see the attached file.", files=[("reply.txt", text.encode())])


def to_message(result: object) -> Message:
    """The native rendering of a result; anything else falls back to `bot.text.render` with Discord escaping."""
    if isinstance(result, r.IndicatorCard):
        return cards_message([result])
    if isinstance(result, r.LookupResult):
        tail = []
        if result.unknown:
            tail.append("Not known to the coalition (or not visible to you here): "
                        + ", ".join(code(v, 200) for v in result.unknown[:50]))
        if result.invalid:
            tail.append("Not indicators: " + ", ".join(code(v, 200) for v in result.invalid[:50]))
        tail += related_lines(result.related, esc, lambda v: code(v, 200))  # issue 12's pivots
        if not result.cards:
            return text_message(_clip("\n".join(tail) or "Nothing found.", 4096))
        return cards_message(result.cards, tail=tail)
    if isinstance(result, r.Submitted):
        head = []
        if result.created:
            head.append(submitted_head(result) + ".")
        if result.known:
            head.append(esc(known_text(result)) + " " + ", ".join(c.indicator.ref for c in result.known))
            head += not_applied_lines(result, esc)[:10]
        cards = (*result.created, *result.known)
        if not cards:
            return text_message("\n".join(head) or "Nothing was submitted.")
        return cards_message(cards, head="\n".join(head))
    if isinstance(result, r.Voted):
        head = (f"Vote on {result.card.indicator.ref} recorded" + (f" (was {result.previous})" if result.previous
                                                                    else "")
                + (": auto-approved by the coalition's rule." if result.auto_approved else "."))
        return cards_message([result.card], head=head)
    if isinstance(result, r.SightingRecorded):
        return cards_message([result.card], head=esc(sighting_head(result)))
    if isinstance(result, r.Moderated):
        head = [f"{result.verb.capitalize()}: " + ", ".join(c.indicator.ref for c in result.cards)] if result.cards \
            else []
        head += [f"Skipped {esc(s)}" for s in result.skipped]
        if not result.cards:
            return text_message("\n".join(head))
        return cards_message(result.cards, head="\n".join(head))
    if isinstance(result, r.IndicatorList):
        if not result.cards:
            return text_message(f"{esc(result.title)}: nothing found.")
        first = (result.page - 1) * result.page_size + 1
        last = first + len(result.cards) - 1
        msg = cards_message(result.cards, head=f"{esc(result.title)}: {first}-{last} of {of_total(result)}",
                            tail=[f"More: add page:{result.page + 1}"] if last < result.total else [])
        if result.next_action:
            from adapters.discord.buttons import CardButton

            msg.view = msg.view or discord.ui.View(timeout=None)
            if len(msg.view.children) < 25:
                msg.view.add_item(CardButton.make(result.next_action, "Next page", discord.ButtonStyle.secondary,
                                                  min(4, len({c.row for c in msg.view.children}))))
        return msg
    if isinstance(result, r.HomeResult):
        m = result.member
        parts = [to_message(result.recent)]
        if result.queue is not None:
            parts.append(to_message(result.queue))
        msg = Message(content=f"{esc(m.name)}, {m.role.value} of {esc(m.org_name)}")
        for part in parts:
            msg.content = _clip("\n".join(filter(None, [msg.content, part.content])), MAX_CONTENT)
            for embed, card in zip(part.embeds, part.cards or [None] * len(part.embeds), strict=False):
                if len(msg.embeds) < MAX_EMBEDS and sum(map(len, msg.embeds)) + len(embed) <= MAX_EMBED_TOTAL:
                    msg.embeds.append(embed)
                    if card is not None:
                        msg.cards.append(card)
        msg.view = card_view(msg.cards)
        return msg
    if isinstance(result, r.PassiveResult):
        return text_message(passive_text(result))
    if isinstance(result, r.Notice):
        msg = cards_message([result.card], head=esc(result.message))
        return msg
    if isinstance(result, r.FileResult):
        return Message(content=_clip(esc(result.summary), MAX_CONTENT), files=[(result.filename, result.data)])
    return text_message(render(result, esc))


def passive_text(result: r.PassiveResult) -> str:
    lines = []
    for obs, card in result.items[:25]:
        if card is None:
            lines.append(f"{code(obs.value, 200)} ({obs.type.value}): not known to the coalition")
        else:
            ind = card.indicator
            lines.append(f"{code(obs.value, 200)} ({obs.type.value}): {ind.ref} {card.status.value} · {ind.tlp.label}"
                         f" · votes {card.tally.confirm}✅ {card.tally.false_positive}❌")
    if len(result.items) > 25:
        lines.append(f"and {len(result.items) - 25} more")
    return _clip("\n".join(lines), MAX_CONTENT)
