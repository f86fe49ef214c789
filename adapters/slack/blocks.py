"""The core's results as Block Kit: indicator cards, replies, the passive-mode summary, App Home and modals.

Only rendering: which cards, which buttons and which organization name a viewer sees were decided by the core.
Every user-supplied string goes through `mrkdwn.esc` (values through `mrkdwn.code`); Slack's limits (50 blocks a
message, 100 a view, 3,000 characters a text, 10 fields a section) are respected by cutting, never by failing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import singledispatchmethod
from typing import Any

from bot import actions
from bot import results as r
from bot.audience import cards_of
from bot.context import THREAT_TYPES
from bot.domain import Status, Tally
from bot.ioc import IOCType
from bot.text import (
    ALSO_RESTRICTED,
    comment_lines,
    context_line,
    dates_line,
    known_text,
    not_applied_lines,
    of_total,
    related_lines,
    render,
    sighting_head,
    submitted_head,
)
from bot.tlp import TLP
from bot.values import frozen

from .mrkdwn import code, esc, truncate

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_FULL_CARDS = 10  # more cards in one reply are listed one line each
TEXT_LIMIT = 2900  # Slack's 3,000 characters per text object, with room to spare
FALLBACK_LIMIT = 3000

SUBMIT_CALLBACK = "ioc_submit"
REASON_CALLBACK = "ioc_reason"

TYPE_LABELS = {
    IOCType.IPV4: "IPv4", IOCType.IPV6: "IPv6", IOCType.CIDR: "CIDR", IOCType.DOMAIN: "Domain", IOCType.URL: "URL",
    IOCType.EMAIL: "E-mail", IOCType.MD5: "MD5", IOCType.SHA1: "SHA-1", IOCType.SHA256: "SHA-256",
    IOCType.SHA512: "SHA-512", IOCType.CVE: "CVE", IOCType.ASN: "ASN", IOCType.BTC: "Bitcoin address",
}
STATUS_EMOJI = {
    Status.PENDING: ":hourglass_flowing_sand:", Status.APPROVED: ":large_green_square:",
    Status.REJECTED: ":no_entry_sign:", Status.REVOKED: ":wastebasket:", Status.EXPIRED: ":zzz:",
}
TLP_EMOJI = {
    TLP.CLEAR: ":white_circle:", TLP.GREEN: ":large_green_circle:", TLP.AMBER: ":large_orange_circle:",
    TLP.AMBER_STRICT: ":large_orange_circle:", TLP.RED: ":red_circle:",
}
PURPOSE_HEADERS = {"feed": "Shared with the coalition", "moderation": "Submission for moderation"}


def mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn text object; `verbatim`: Slack auto-links nothing in it (no URL, channel or name written by a
    person turns into a link or a mention)."""
    return {"type": "mrkdwn", "text": truncate(text, TEXT_LIMIT), "verbatim": True}


def inline_code(text: str) -> str:
    """Every user string of a notification's fallback text in code: inert, never a link."""
    return code(text, 500)


def plain(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": mrkdwn(text), **extra}


def context(*texts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [mrkdwn(t) for t in texts[:10]]}


DIVIDER = {"type": "divider"}


def sections(lines: Iterable[str], *, max_blocks: int) -> list[dict[str, Any]]:
    """Lines packed into as few sections as fit 3,000 characters each, at most `max_blocks`."""
    blocks: list[dict[str, Any]] = []
    current = ""
    for line in lines:
        line = truncate(line, TEXT_LIMIT)
        if current and len(current) + 1 + len(line) > TEXT_LIMIT:
            blocks.append(section(current))
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        blocks.append(section(current))
    if len(blocks) > max_blocks:
        blocks = [*blocks[: max_blocks - 1], context("… cut to fit one Slack message")]
    return blocks


@frozen
class Message:
    """A chat message: the mrkdwn fallback `text` (notifications, screen readers) and its blocks."""

    text: str
    blocks: list[dict[str, Any]]

    def payload(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else (words or word + 's')}"


class Renderer:
    """Block Kit for this deployment (the reaction emoji that count as votes are shown on the cards)."""

    def __init__(self, *, confirm_emoji: str = "white_check_mark", false_positive_emoji: str = "x") -> None:
        self.confirm_emoji = confirm_emoji
        self.false_positive_emoji = false_positive_emoji

    # ------------------------------------------------------------ cards

    def tally(self, t: Tally) -> str:
        return (f":{self.confirm_emoji}: {plural(t.confirm, 'confirmation')} from {plural(t.confirm_orgs, 'org')}\n"
                f":{self.false_positive_emoji}: {plural(t.false_positive, 'false positive')} from "
                f"{plural(t.false_positive_orgs, 'org')}")

    def card_blocks(self, card: r.IndicatorCard, *, buttons: bool = True) -> list[dict[str, Any]]:
        ind = card.indicator
        head = f"*{ind.ref}* · {TYPE_LABELS.get(ind.type, ind.type.value)}\n{code(ind.value)}"
        fields = [
            f"*Status*\n{STATUS_EMOJI.get(card.status, '')} {card.status.value}"
            + (f" · score {card.score}" if card.score is not None else ""),
            f"*TLP*\n{TLP_EMOJI[ind.tlp]} {ind.tlp.label}",
            f"*Confidence*\n{ind.confidence}",
            f"*Submitted by*\n{esc(card.org_shown)}",
            f"*Votes*\n{self.tally(card.tally)}",
            f"*Sightings*\n{card.sightings.count} ({plural(card.sightings.orgs, 'org')})",
        ]
        if ind.tags:
            fields.append(f"*Tags*\n{esc(', '.join(ind.tags))}")
        if about := context_line(ind, esc, url=lambda u: code(u, 300)):
            fields.append(f"*Context*\n{about}")
        blocks: list[dict[str, Any]] = [section(head, block_id=f"card-{ind.id}",
                                                fields=[mrkdwn(truncate(f, 1900)) for f in fields])]
        notes = []
        if ind.note:
            notes.append(f"*Note:* {esc(truncate(ind.note, 1800))}")
        if ind.status_reason:
            notes.append(f"*Reason:* {esc(truncate(ind.status_reason, 1800))}")
        if card.warnings:
            notes.append(f":warning: On a warninglist of known-benign values: {esc('; '.join(card.warnings))}")
        if card.also_restricted:
            notes.append(f":lock: {ALSO_RESTRICTED}")
        notes.append(f":date: {dates_line(card)}")
        if card.comment_count:
            notes.append(":speech_balloon: " + truncate("\n".join(comment_lines(card, esc)), 1900))
        if notes:
            blocks.append(context(*notes))
        if buttons and card.buttons:
            blocks.append({"type": "actions", "block_id": f"card-{ind.id}-actions",
                           "elements": [self.button(b) for b in card.buttons[:25]]})
        return blocks

    @staticmethod
    def button(b: r.Button) -> dict[str, Any]:
        element: dict[str, Any] = {"type": "button", "text": plain(b.label), "action_id": b.action_id,
                                   "value": b.action_id}
        if b.style in {"primary", "danger"}:
            element["style"] = b.style
        return element

    def compact(self, card: r.IndicatorCard) -> str:
        ind, t = card.indicator, card.tally
        return (f"*{ind.ref}* {code(ind.value, 300)} · {card.status.value} · {ind.tlp.label} · "
                f":{self.confirm_emoji}: {t.confirm} ({plural(t.confirm_orgs, 'org')}) "
                f":{self.false_positive_emoji}: {t.false_positive} ({plural(t.false_positive_orgs, 'org')})"
                + (f" · score {card.score}" if card.score is not None else ""))

    def cards(self, cards: Sequence[r.IndicatorCard], *, buttons: bool = True,
              full: int = MAX_FULL_CARDS) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        for card in cards[:full]:
            blocks += [*self.card_blocks(card, buttons=buttons), DIVIDER]
        rest = cards[full:]
        if rest:
            blocks += sections((self.compact(c) for c in rest), max_blocks=4)
        return blocks

    def card_message(self, card: r.IndicatorCard, *, headline: str | None = None,
                     purpose: str | None = None) -> Message:
        """One live card: what the bot posts in a channel and later edits with `chat.update`."""
        top = headline or PURPOSE_HEADERS.get(purpose or "")
        blocks = [context(f"*{esc(top)}*")] if top else []
        blocks += self.card_blocks(card)
        if any(b.action_id.startswith("ioc:vote:") for b in card.buttons):
            blocks.append(context(f"Vote with the buttons, or react :{self.confirm_emoji}: (confirm) or "
                                  f":{self.false_positive_emoji}: (false positive)."))
        ind = card.indicator
        text = f"{esc(top) + ': ' if top else ''}{ind.ref} {ind.type.value} {code(ind.value, 500)} " \
               f"({card.status.value}, {ind.tlp.label})"
        return Message(truncate(text, FALLBACK_LIMIT), blocks)

    # ------------------------------------------------------------ replies

    def fallback(self, result: object) -> str:
        """The message's `text` (notifications, screen readers): the plain rendering, user strings in code."""
        return truncate(render(result, inline_code), FALLBACK_LIMIT)

    def message(self, result: object) -> Message:
        """A whole reply as one message (at most 50 blocks)."""
        head, tail = self.head(result), self.tail(result)
        blocks = [*head, *self.body(result), *tail]
        if len(blocks) > MAX_MESSAGE_BLOCKS:
            blocks = [*blocks[: MAX_MESSAGE_BLOCKS - 1], context("… cut to fit one Slack message")]
        return Message(self.fallback(result), blocks)

    def live_messages(self, result: object) -> list[tuple[r.IndicatorCard, Message]]:
        """A public reply as one message per card (each one can then be edited on its own when its indicator
        changes): the first carries the reply's headline, the last its closing lines."""
        cards = cards_of(result)  # type: ignore[arg-type]
        head, tail = self.head(result), self.tail(result)
        out = []
        for n, card in enumerate(cards):
            blocks = [*(head if n == 0 else []), *self.card_blocks(card)]
            if n == len(cards) - 1:
                blocks += tail
            text = self.fallback(result) if n == 0 else self.card_message(card).text
            out.append((card, Message(text, blocks[:MAX_MESSAGE_BLOCKS])))
        return out

    @singledispatchmethod
    def head(self, result: object) -> list[dict[str, Any]]:
        return []

    @head.register
    def _(self, result: r.Submitted) -> list[dict[str, Any]]:
        return [section(f"*{submitted_head(result)}*")] \
            if result.created else []

    @head.register
    def _(self, result: r.Voted) -> list[dict[str, Any]]:
        text = f"*Vote on {result.card.indicator.ref} recorded*" + (f" (was {result.previous})"
                                                                     if result.previous else "")
        if result.auto_approved:
            text += ": auto-approved by the coalition's rule"
        return [section(text)]

    @head.register
    def _(self, result: r.SightingRecorded) -> list[dict[str, Any]]:
        return [section(esc(sighting_head(result)))]

    @head.register
    def _(self, result: r.Moderated) -> list[dict[str, Any]]:
        if not result.cards:
            return []
        return [section(f"*{result.verb.capitalize()}:* " + ", ".join(c.indicator.ref for c in result.cards))]

    @head.register
    def _(self, result: r.IndicatorList) -> list[dict[str, Any]]:
        if not result.cards:
            return [section(f"*{esc(result.title)}:* nothing found.")]
        first = (result.page - 1) * result.page_size + 1
        return [section(f"*{esc(result.title)}:* {first}–{first + len(result.cards) - 1} of {of_total(result)}")]

    @head.register
    def _(self, result: r.CaseCard) -> list[dict[str, Any]]:
        case = result.case
        total = sum(n for _, n in result.by_status)
        counts = ", ".join(f"{n} {status}" for status, n in result.by_status)
        who = "this channel" if result.channel else "you"
        lines = [*([f"*{esc(result.headline)}*"] if result.headline else []),
                 f"*Case {esc(case.name)}* · {case.tlp.label} · opened by {esc(case.org_name)} "
                 f"{case.created_at:%Y-%m-%d}",
                 *([esc(truncate(case.description, 1000))] if case.description else []),
                 f"{total} indicator{'s' if total != 1 else ''} {who} may see" + (f": {counts}" if counts else "")]
        return [section("\n".join(lines))]

    @singledispatchmethod
    def tail(self, result: object) -> list[dict[str, Any]]:
        return []

    @tail.register
    def _(self, result: r.Submitted) -> list[dict[str, Any]]:
        lines = []
        if result.known:
            lines.append(esc(known_text(result)))
            told = not_applied_lines(result, esc)
            lines += [truncate(line, 2900) for line in told[:-1][:8] + told[-1:]]  # a context holds 10
        return [context(*lines)] if lines else []

    @tail.register
    def _(self, result: r.LookupResult) -> list[dict[str, Any]]:
        lines = []
        if result.unknown:
            lines.append("*Not known to the coalition* (or not visible to you here): "
                         + ", ".join(code(v, 200) for v in result.unknown[:100])
                         + (f" and {len(result.unknown) - 100} more" if len(result.unknown) > 100 else ""))
        if result.invalid:
            lines.append("*Not indicators:* " + ", ".join(code(v, 200) for v in result.invalid[:50]))
        blocks = sections(lines, max_blocks=3)
        if result.related:  # issue 12's pivots, as every platform shows them
            blocks += sections(related_lines(result.related, esc, lambda v: code(v, 200)), max_blocks=4)
        return blocks

    @tail.register
    def _(self, result: r.Moderated) -> list[dict[str, Any]]:
        return sections((f"Skipped {esc(s)}" for s in result.skipped), max_blocks=2)

    @tail.register
    def _(self, result: r.IndicatorList) -> list[dict[str, Any]]:
        if not result.next_action:
            return []
        return [{"type": "actions", "block_id": "list-more", "elements": [
            self.button(r.Button("Next page", result.next_action))]}]

    @singledispatchmethod
    def body(self, result: object) -> list[dict[str, Any]]:
        if cards_of(result):  # type: ignore[arg-type]
            return self.cards(cards_of(result))  # type: ignore[arg-type]
        return sections(render(result, esc).splitlines(), max_blocks=MAX_MESSAGE_BLOCKS - 5)

    @body.register
    def _(self, result: r.CaseCard) -> list[dict[str, Any]]:
        blocks = self.cards(result.cards, buttons=not result.channel)
        total = sum(n for _, n in result.by_status)
        if total > len(result.cards):
            blocks.append(context(f"… and {total - len(result.cards)} older ones"))
        return blocks

    @body.register
    def _(self, result: r.Submitted) -> list[dict[str, Any]]:
        return self.cards([*result.created, *result.known])

    @body.register
    def _(self, result: r.LookupResult) -> list[dict[str, Any]]:
        return self.cards(result.cards)

    @body.register
    def _(self, result: r.IndicatorList) -> list[dict[str, Any]]:
        return self.cards(result.cards)

    @body.register
    def _(self, result: r.Moderated) -> list[dict[str, Any]]:
        return self.cards(result.cards)

    @body.register
    def _(self, result: r.PassiveResult) -> list[dict[str, Any]]:
        return self.passive(result)

    @body.register
    def _(self, result: r.UserError) -> list[dict[str, Any]]:
        blocks = [section(f":warning: {esc(result.problem)}")]
        if result.usage:
            blocks.append(context(f"Usage: {code(result.usage, 1500)}"))
        return blocks

    @body.register
    def _(self, result: r.HelpResult) -> list[dict[str, Any]]:
        return sections((f"{code(usage, 600)}\n{esc(summary)}" for _, usage, summary in result.entries),
                        max_blocks=20)

    # ------------------------------------------------------------ passive mode

    def passive(self, result: r.PassiveResult, limit: int = 25) -> list[dict[str, Any]]:
        lines = []
        for obs, card in result.items[:limit]:
            value = code(obs.value, 300)
            if card is None:
                lines.append(f"{value} ({TYPE_LABELS.get(obs.type, obs.type.value)}): not known to the coalition")
            else:
                ind, t = card.indicator, card.tally
                lines.append(f"{value}: *{ind.ref}* {STATUS_EMOJI.get(card.status, '')} {card.status.value} · "
                             f"{ind.tlp.label} · :{self.confirm_emoji}: {t.confirm} ({plural(t.confirm_orgs, 'org')})"
                             f" :{self.false_positive_emoji}: {t.false_positive} "
                             f"({plural(t.false_positive_orgs, 'org')})")
        if len(result.items) > limit:
            lines.append(f"… and {len(result.items) - limit} more")
        return [*sections(lines, max_blocks=5),
                context("Known ones: `/ioc lookup #ID` for details. New ones: the message shortcut "
                        "*Submit indicators from this message*.")]

    def passive_message(self, result: r.PassiveResult) -> Message:
        return Message(self.fallback(result), self.passive(result))

    # ------------------------------------------------------------ App Home

    def home(self, result: object) -> dict[str, Any]:
        blocks: list[dict[str, Any]] = [{"type": "header", "text": plain("Coalition Bot", 150)}]
        if not isinstance(result, r.HomeResult):
            if isinstance(result, r.UserError) and "not a member" in result.problem:
                blocks += [section("You are not a member of the coalition yet."),
                           context("Ask an admin of your organization for an invite code, then type "
                                   "`/ioc join CODE` here or in any channel.")]
            else:
                blocks += self.body(result)[:20]
            return {"type": "home", "blocks": blocks}
        m = result.member
        blocks += [section(f"*{esc(m.name)}* · {m.role.value} of *{esc(m.org_name)}*"), DIVIDER]
        recent = result.recent
        blocks.append(section(f"*Your latest submissions* ({recent.total})"))
        if recent.cards:
            blocks += sections((self.compact(c) for c in recent.cards), max_blocks=3)
        else:
            blocks.append(context("Nothing yet: `/ioc submit VALUE ...` or the *Share an indicator* shortcut."))
        if result.queue is not None:
            queue = result.queue
            blocks += [DIVIDER, section(f"*Moderation queue* ({queue.total} waiting)")]
            for card in queue.cards:
                blocks.append(section(self.compact(card), block_id=f"home-{card.indicator.id}"))
                if card.indicator.note:
                    blocks.append(context(f"*Note:* {esc(truncate(card.indicator.note, 500))} · from "
                                          f"{esc(card.org_shown)}"))
                else:
                    blocks.append(context(f"from {esc(card.org_shown)}"))
                moderation = [b for b in card.buttons if b.action_id.split(":")[1] in {"approve", "reject"}]
                if moderation:
                    blocks.append({"type": "actions", "block_id": f"home-{card.indicator.id}-actions",
                                   "elements": [self.button(b) for b in moderation]})
            if not queue.cards:
                blocks.append(context("Nothing waits for a decision."))
            elif queue.total > len(queue.cards):
                blocks.append(context(f"… and {queue.total - len(queue.cards)} more: `/ioc queue page:2`"))
        blocks += [DIVIDER, context("`/ioc help` lists every command. Files (STIX 2.1 .json, .csv, .txt) sent to "
                                    "me in a direct message are imported as submissions.")]
        return {"type": "home", "blocks": blocks[:MAX_VIEW_BLOCKS]}

    # ------------------------------------------------------------ modals

    @staticmethod
    def submission_modal(*, default_tlp: TLP, default_confidence: int, values: str = "", channel: str = "",
                         hint: str | None = None) -> dict[str, Any]:
        options = [{"text": plain(t.label), "value": t.value} for t in TLP]
        initial = next(o for o in options if o["value"] == default_tlp.value)
        blocks: list[dict[str, Any]] = []
        if hint:
            blocks.append(context(hint))
        values_input: dict[str, Any] = {"type": "plain_text_input", "action_id": "values", "multiline": True,
                                        "max_length": 3000,
                                        "placeholder": plain("203.0.113.7  hxxp://evil[.]example/x  44d8…")}
        if values:
            values_input["initial_value"] = values[:3000]
        blocks += [
            {"type": "input", "block_id": "values", "label": plain("Indicators"), "element": values_input,
             "hint": plain("One or many: IPs, domains, URLs, e-mails, hashes, CVEs, ASNs, BTC. Defanged is fine.",
                           150)},
            {"type": "input", "block_id": "tlp", "label": plain("TLP"), "element": {
                "type": "static_select", "action_id": "tlp", "options": options, "initial_option": initial}},
            {"type": "input", "block_id": "confidence", "label": plain("Confidence (0–100)"), "optional": True,
             "element": {"type": "number_input", "action_id": "confidence", "is_decimal_allowed": False,
                         "min_value": "0", "max_value": "100", "initial_value": str(default_confidence)}},
            {"type": "input", "block_id": "tags", "label": plain("Tags"), "optional": True, "element": {
                "type": "plain_text_input", "action_id": "tags", "placeholder": plain("phishing, emotet")}},
            {"type": "input", "block_id": "valid", "label": plain("Valid for"), "optional": True, "element": {
                "type": "plain_text_input", "action_id": "valid", "placeholder": plain("e.g. 30d (default: policy)")}},
            {"type": "input", "block_id": "threat", "label": plain("Threat type"), "optional": True, "element": {
                "type": "static_select", "action_id": "threat", "placeholder": plain("What it is"),
                "options": [{"text": plain(t), "value": t} for t in THREAT_TYPES]}},
            {"type": "input", "block_id": "malware", "label": plain("Malware family"), "optional": True, "element": {
                "type": "plain_text_input", "action_id": "malware", "max_length": 100,
                "placeholder": plain("emotet, cobalt_strike")}},
            {"type": "input", "block_id": "references", "label": plain("References"), "optional": True, "element": {
                "type": "plain_text_input", "action_id": "references", "multiline": True, "max_length": 1600,
                "placeholder": plain("https://… one a line, at most 3")}},
            {"type": "input", "block_id": "note", "label": plain("Note"), "optional": True, "element": {
                "type": "plain_text_input", "action_id": "note", "multiline": True, "max_length": 2000}},
            {"type": "input", "block_id": "anonymity", "label": plain("Anonymity"), "optional": True, "element": {
                "type": "checkboxes", "action_id": "anonymous", "options": [{
                    "text": plain("Hide my organization (others see \"a coalition member\")"), "value": "anon"}]}},
        ]
        return {"type": "modal", "callback_id": SUBMIT_CALLBACK, "title": plain("Share an indicator", 24),
                "submit": plain("Submit", 24), "close": plain("Cancel", 24),
                "private_metadata": json.dumps({"channel": channel}), "blocks": blocks}

    @staticmethod
    def reason_modal(action: actions.Action, metadata: dict[str, Any]) -> dict[str, Any]:
        verb = action.verb.capitalize()
        return {"type": "modal", "callback_id": REASON_CALLBACK, "title": plain(f"{verb} #{action.target}", 24),
                "submit": plain(verb, 24), "close": plain("Cancel", 24),
                "private_metadata": json.dumps({**metadata, "action": action.id}),
                "blocks": [{"type": "input", "block_id": "reason", "label": plain("Reason"), "element": {
                    "type": "plain_text_input", "action_id": "reason", "multiline": True, "max_length": 500,
                    "placeholder": plain("The submitter and the coalition will read it")}}]}

    def result_modal(self, result: object, title: str = "Coalition Bot") -> dict[str, Any]:
        """A modal's last page: the result of its submission (no buttons: they act from messages)."""
        message = self.message(result)
        blocks = [b for b in message.blocks if b.get("type") != "actions"]
        return {"type": "modal", "title": plain(title, 24), "close": plain("Done", 24),
                "blocks": blocks[:MAX_VIEW_BLOCKS] or [section(esc(message.text) or "Done.")]}
