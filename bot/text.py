"""Plain-text rendering of every result: the console's output and every adapter's fallback.

User-supplied strings (values, notes, names, reasons, tags) go through `escape`, which each adapter supplies
for its medium (terminal control characters, Slack mrkdwn, Discord markdown). Nothing else is escaped, so
the layout stays readable.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import singledispatch

from bot import results as r
from bot.context import shown_reference
from bot.domain import Indicator, StatsTrends, Status, Tally
from bot.pivots import COUNT_MAX
from bot.ports import OutboxLane
from bot.rules import comment_author
from bot.watch_index import Watch

Escape = Callable[[str], str]


_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
_INVISIBLE = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))


def _shown(ch: str, one_line: bool) -> str:
    if ch in _LINE_BREAKS:
        return " " if one_line or ch != "\n" else "\n"
    if ch == "\t":
        return " "
    if unicodedata.category(ch) in _INVISIBLE:
        return f"<U+{ord(ch):04X}>"
    return ch


def visible(text: str, *, one_line: bool = True) -> str:
    """User text with nothing invisible left: every format or control character (zero-width spaces and joiners,
    bidirectional marks, embeddings, overrides and isolates, U+061C, U+FEFF, soft hyphens, ANSI escapes, lone
    surrogates) is shown as `<U+XXXX>`, so an RTL override can never disguise a value; line breaks and tabs
    become spaces (`one_line`, the default: a note shown inline cannot start a new line and so a heading,
    a list or a quote) or, with `one_line=False`, line feeds. Used by every renderer (console, Slack, Discord)
    before its platform's escaping."""
    if text.isprintable():
        return text
    return "".join(_shown(ch, one_line) if not ch.isprintable() else ch for ch in str(text))


def plain(text: str) -> str:
    """Safe on a terminal: nothing invisible (see `visible`), no control sequence, one line."""
    return visible(text)


def tally_text(t: Tally) -> str:
    return (f"{t.confirm} confirm ({t.confirm_orgs} org{'s' if t.confirm_orgs != 1 else ''}), "
            f"{t.false_positive} false positive ({t.false_positive_orgs} org"
            f"{'s' if t.false_positive_orgs != 1 else ''})")


def card_lines(card: r.IndicatorCard, esc: Escape) -> list[str]:
    ind = card.indicator
    lines = [f"{ind.ref} {ind.type.value} {esc(ind.value)}",
             f"   status {card.status.value} · {ind.tlp.label} · confidence {ind.confidence}"
             + (f" · tags {esc(', '.join(ind.tags))}" if ind.tags else "")
             + (f" · score {card.score}" if card.score is not None else ""),
             f"   from {esc(card.org_shown)} · votes {tally_text(card.tally)} · sightings "
             f"{card.sightings.count} ({card.sightings.orgs} org{'s' if card.sightings.orgs != 1 else ''})"]
    if ind.note:
        lines.append(f"   note: {esc(ind.note)}")
    if context := context_line(ind, esc):
        lines.append(f"   {context}")
    lines.append(f"   {dates_line(card)}")
    lines += [f"   {line}" for line in comment_lines(card, esc)]
    if ind.status_reason:
        lines.append(f"   reason: {esc(ind.status_reason)}")
    if card.warnings:
        lines.append(f"   warning: on warninglist {esc('; '.join(card.warnings))}")
    if card.also_restricted:
        lines.append(f"   {ALSO_RESTRICTED}")
    return lines


def context_line(ind: Indicator, esc: Escape, url: Escape | None = None) -> str:
    """Issue 13's context on one line: threat type, malware family, references (defanged, through `url`: code
    on chat platforms), or "" when there is none."""
    parts = []
    if ind.threat_type:
        parts.append(f"threat {esc(ind.threat_type)}")
    if ind.malware:
        parts.append(f"malware {esc(ind.malware)}")
    if ind.references:
        parts.append("refs " + " ".join((url or esc)(shown_reference(u)) for u in ind.references))
    return " · ".join(parts)


def dates_line(card: r.IndicatorCard) -> str:
    """Every card's dates on one line: submitted, decided, first seen, last seen (the latest sighting or
    submission), valid until."""
    ind = card.indicator
    last = max(d for d in (ind.last_seen, card.sightings.last_seen) if d is not None)
    parts = [f"submitted {ind.created_at:%Y-%m-%d}"]
    if ind.decided_at is not None:
        parts.append(f"decided {ind.decided_at:%Y-%m-%d}")
    parts += [f"first seen {ind.first_seen:%Y-%m-%d}", f"last seen {last:%Y-%m-%d}",
              f"valid until {ind.valid_until:%Y-%m-%d}" if ind.valid_until else "no expiry"]
    return " · ".join(parts)


def comment_lines(card: r.IndicatorCard, esc: Escape) -> list[str]:
    """A lookup's comments: how many, and the latest few (newest first), each dated with its organization (on an
    anonymous item shown without its submitter, "a coalition member": bot.rules.comment_author)."""
    if not card.comment_count:
        return []
    latest = f", the latest {len(card.comments)}" if card.comment_count > len(card.comments) else ""
    return [f"comments ({card.comment_count}{latest}):"] + [
        f"  {c.created_at:%Y-%m-%d} {esc(comment_author(card.indicator, c.org_name, card.org_shown))}: {esc(c.text)}"
        for c in card.comments]


ALSO_RESTRICTED = "also held at a restricted TLP (another item you may see: look the value up)"
NO_EDIT = ("There is no edit command: ask a moderator to change a held item; add context to it with "
           "`/ioc sighting #ID count:N note`.")


def known_text(result: r.Submitted) -> str:
    """The line about values held already (every adapter says the same)."""
    updated = (f" (updated today's sighting of {', '.join(result.sightings_updated)})"
               if result.sightings_updated else "")
    return f"Already known to the coalition: your organization's sighting was recorded{updated}."


def not_applied_lines(result: r.Submitted, esc: Escape) -> list[str]:
    if not result.not_applied:
        return []
    return ([f"Not applied to {ref}, held already: {esc('; '.join(what))}." for ref, what in result.not_applied]
            + [NO_EDIT])


def submitted_head(result: r.Submitted) -> str:
    """The first line of a submission's reply, on every platform: what waits for moderation, and what was stored
    unmoderated because nobody but the submitter could decide it (bot.rules: its card's reason says why)."""
    n = len(result.created)
    unmoderated = sum(1 for c in result.created if c.indicator.status is Status.APPROVED)
    head = f"Submitted {n} indicator{'s' if n != 1 else ''}"
    if not unmoderated:
        return head + " for moderation"
    waiting = f"{n - unmoderated} for moderation, " if unmoderated < n else ""
    return (f"{head}: {waiting}{unmoderated} stored without moderation, as nobody but you may decide "
            f"{'it' if unmoderated == 1 else 'them'} (see the reason)")


@singledispatch
def render(result: object, esc: Escape = plain) -> str:
    return esc(str(result))


@render.register
def _(result: r.IndicatorCard, esc: Escape = plain) -> str:
    return "\n".join(card_lines(result, esc))


def _cards(cards: tuple[r.IndicatorCard, ...], esc: Escape) -> list[str]:
    return [line for c in cards for line in card_lines(c, esc)]


@render.register
def _(result: r.Submitted, esc: Escape = plain) -> str:
    lines: list[str] = []
    if result.created:
        lines.append(submitted_head(result) + ":")
        lines += _cards(result.created, esc)
    if result.known:
        lines.append(known_text(result))
        lines += _cards(result.known, esc)
        lines += not_applied_lines(result, esc)
    return "\n".join(lines) or "Nothing was submitted."


def related_lines(related: tuple[r.Related, ...], esc: Escape, value: Escape | None = None) -> list[str]:
    """A lookup's related section (issue 12's pivots), on every platform: per looked-up value, each kind of item
    around it counted, the first few shown (in address or name order), and the search that lists them all.
    `value` formats a value (a code span on the chat platforms); `esc` everything else a person wrote."""
    shown = value or esc
    lines: list[str] = []
    for rel in related:
        lines.append(f"Related to {shown(rel.value)}:")
        for group in rel.groups:
            counted = f"more than {COUNT_MAX:,}" if group.count > COUNT_MAX else str(group.count)
            lines.append(f"   {group.label} ({counted}):")
            for item in group.items:
                ind = item.indicator
                orgs = f"{item.confirm_orgs} org{'s' if item.confirm_orgs != 1 else ''}"
                lines.append(f"      {shown(ind.value)} ({ind.ref}, {item.status.value}, {ind.tlp.label}, "
                             f"confirmed by {orgs})")
            more = group.count - len(group.items)
            if more > 0:
                counted = "more" if group.count > COUNT_MAX else f"{more} more"
                lines.append(f"      and {counted}" + (f": /ioc search {esc(group.search)}" if group.search else ""))
    return lines


@render.register
def _(result: r.LookupResult, esc: Escape = plain) -> str:
    lines = _cards(result.cards, esc)
    if result.unknown:
        lines.append("Not known to the coalition (or not visible to you here): "
                     + ", ".join(esc(v) for v in result.unknown))
    if result.invalid:
        lines.append("Not indicators: " + ", ".join(esc(v) for v in result.invalid))
    lines += related_lines(result.related, esc)
    return "\n".join(lines)


@render.register
def _(result: r.Voted, esc: Escape = plain) -> str:
    verdict = result.card.indicator.ref
    head = (f"Vote on {verdict} recorded" + (f" (was {result.previous})" if result.previous else "")
            + (": auto-approved by the coalition's rule." if result.auto_approved else "."))
    return "\n".join([head, *card_lines(result.card, esc)])


@render.register
def _(result: r.SightingRecorded, esc: Escape = plain) -> str:
    return "\n".join([sighting_head(result), *card_lines(result.card, esc)])


def sighting_head(result: r.SightingRecorded) -> str:
    if result.updated:
        return (f"Sighting of {result.card.indicator.ref} recorded (count {result.count}): updated today's sighting "
                "(one per member and day, the latest counts).")
    return f"Sighting of {result.card.indicator.ref} recorded (count {result.count})."


def of_total(result: r.IndicatorList) -> str:
    """A list's total as the reply says it: "at least N" where counting stopped once the page was full."""
    return f"at least {result.total}" if result.total_at_least else str(result.total)


@render.register
def _(result: r.IndicatorList, esc: Escape = plain) -> str:
    if not result.cards:
        return f"{result.title}: nothing found."
    first = (result.page - 1) * result.page_size + 1
    last = first + len(result.cards) - 1
    head = f"{result.title}: {first}-{last} of {of_total(result)}"
    tail = [f"More: add page:{result.page + 1}"] if last < result.total else []
    return "\n".join([head, *_cards(result.cards, esc), *tail])


@render.register
def _(result: r.Moderated, esc: Escape = plain) -> str:
    lines = []
    if result.cards:
        lines.append(f"{result.verb.capitalize()}: " + ", ".join(c.indicator.ref for c in result.cards))
        lines += _cards(result.cards, esc)
    lines += [f"Skipped {s}" for s in result.skipped]
    return "\n".join(lines)


@render.register
def _(result: r.WhoAmIResult, esc: Escape = plain) -> str:
    m = result.member
    ids = ", ".join(f"{i.platform.value}:{esc(i.user_id)}" for i in result.identities)
    return f"You are {esc(m.name)} (m{m.id}), {m.role.value} of {esc(m.org_name)}. Identities: {ids}"


def watch_line(watch: Watch, esc: Escape = plain) -> str:
    how = [w for w, on in (("digest:daily", watch.digest), ("self:on", watch.include_own)) if on]
    note = f": {esc(watch.note)}" if watch.note else ""
    return f"{watch.ref} {esc(str(watch.target))}{' ' + ' '.join(how) if how else ''}{note}"


@render.register
def _(result: r.WatchListResult, esc: Escape = plain) -> str:
    lines = [f"Your watches ({len(result.mine)}):" if result.mine else
             "You watch nothing yet: /ioc watch add TARGET (see /ioc help watch)."]
    lines += [f"• {watch_line(w, esc)}" for w in result.mine]
    if result.channel:
        lines.append(f"This channel's watches ({len(result.channel)}):")
        lines += [f"• {watch_line(w, esc)}" for w in result.channel]
    return "\n".join(lines)


@render.register
def _(result: r.Joined, esc: Escape = plain) -> str:
    m = result.member
    article = "an" if m.role.value[0] in "aeiou" else "a"
    return f"Welcome, {esc(m.name)}: you are now {article} {m.role.value} of {esc(m.org_name)}."


@render.register
def _(result: r.StatsResult, esc: Escape = plain) -> str:
    s = result.stats
    by_status = ", ".join(f"{k} {v}" for k, v in sorted(s.by_status.items())) or "none"
    by_type = ", ".join(f"{k} {v}" for k, v in sorted(s.by_type.items())) or "none"
    text = (f"Indicators by status: {by_status}\nBy type: {by_type}\n"
            f"{s.organizations} organizations, {s.members} members, {s.votes} votes, {s.sightings} sightings")
    return text + "".join(f"\n{line}" for line in trend_lines(result.trends, esc))


def trend_lines(trends: StatsTrends | None, esc: Escape = plain) -> list[str]:
    """The chart's numbers as text (for a reader who cannot see the picture)."""
    if trends is None or not trends.week_starts:
        return []
    lines = [f"Last {len(trends.week_starts)} weeks (from {trends.week_starts[0].isoformat()}): "
             f"{sum(trends.submitted):,} submitted, {sum(trends.approved):,} approved; this week "
             f"{trends.submitted[-1]:,} submitted, {trends.approved[-1]:,} approved"]
    if trends.median_decision_hours is not None:
        lines.append(f"Median time to a decision: {_hours(trends.median_decision_hours)}")
    if trends.top_tags:
        lines.append("Top tags: " + ", ".join(f"{esc(t)} {n:,}" for t, n in trends.top_tags))
    if trends.by_organization:
        lines.append("Contributions: " + ", ".join(f"{esc(o)} {n:,}" for o, n in trends.by_organization))
    return lines


@render.register
def _(result: r.ScoreExplained, esc: Escape = plain) -> str:
    ind = result.indicator
    return (f"{ind.ref} {ind.type.value} {esc(ind.value)}: score {result.score}\n{result.explanation}\n"
            "(↑ confirmed or sighted in the last week, ↓ lost a point or more over it, → steady)")


@render.register
def _(result: r.OrgStandings, esc: Escape = plain) -> str:
    if not result.rows:
        return "No organization has submitted anything you may see yet."
    lines = ["Standing of each organization (over what you may see): submitted, approved, confirmed by others, "
             "false-positive rate, median time to decision"]
    for s in result.rows:
        median = _hours(s.median_decision_hours) if s.median_decision_hours is not None else "none decided"
        lines.append(f"{esc(s.name)}: {s.submitted:,} submitted · {s.approved:,} approved · "
                     f"{s.confirmed_by_others:,} confirmed by others · {s.false_positive_rate:.0%} false positive · "
                     f"median decision {median}")
    return "\n".join(lines)


def _hours(hours: float) -> str:
    return f"{hours * 60:.0f} minutes" if hours < 1 else f"{hours:.1f} hours" if hours < 48 else \
        f"{hours / 24:.1f} days"


@render.register
def _(result: r.HelpResult, esc: Escape = plain) -> str:
    return "\n".join(f"{usage}\n    {summary}" for _, usage, summary in result.entries)


@render.register
def _(result: r.OrganizationList, esc: Escape = plain) -> str:
    if not result.organizations:
        return "No organizations yet: `/ioc admin org add NAME`."
    return "\n".join(f"o{o.id} {esc(o.name)} · sector {esc(o.sector) or 'unset'} · trust {o.trust_level}"
                     for o in result.organizations)


@render.register
def _(result: r.MemberListResult, esc: Escape = plain) -> str:
    if not result.members:
        return "No members."
    return "\n".join(f"m{m.id} {esc(m.name)} · {m.role.value} · {esc(m.org_name)}" for m in result.members)


@render.register
def _(result: r.InviteCreated, esc: Escape = plain) -> str:
    i = result.invite
    return (f"Invite code for {esc(i.org_name)} ({i.role.value}, {i.max_uses} use{'s' if i.max_uses != 1 else ''},"
            f" expires {i.expires_at:%Y-%m-%d %H:%M} UTC): {result.code}\nThe new member runs: /ioc join {result.code}")


@render.register
def _(result: r.ChannelSettings, esc: Escape = plain) -> str:
    c = result.channel
    if result.changed:  # in a thread, its channel was set
        head = "This thread's channel updated" if result.thread else "Channel updated"
    else:
        head = "This thread" if result.thread else "This channel"
    follows = " (its channel's)" if result.thread == r.THREAD_FOLLOWS and not result.changed else ""
    text = (f"{head}: ceiling {c.ceiling.label}{follows}, purpose {c.purpose.value}, passive "
            f"{'on' if c.passive else 'off'}, lookups {'ephemeral' if c.ephemeral_lookups else 'in channel'}")
    if result.shared is not None:
        text += f"\nshared with other organizations' workspaces (Slack Connect): {'yes' if result.shared else 'no'}"
    return text + (f"\n{result.note}" if result.note else "")


@render.register
def _(result: r.ChannelSharing, esc: Escape = plain) -> str:
    if result.lowered_from is None:
        return ("This channel is no longer shared with other organizations' workspaces; its ceiling stays "
                f"{result.channel.ceiling.label}." if not result.channel.shared_externally else
                "This channel is now shared with another organization's workspace; its ceiling is TLP:CLEAR.")
    return ("This channel is now shared with another organization's workspace, so the coalition treats it as public "
            f"to them: its ceiling was lowered from {result.lowered_from.label} to TLP:CLEAR. An admin can raise it "
            f"again with `/ioc admin channel set ceiling:{result.lowered_from.value.lower()}`.")


@render.register
def _(result: r.HomeResult, esc: Escape = plain) -> str:
    m = result.member
    lines = [f"{esc(m.name)}, {m.role.value} of {esc(m.org_name)}", render(result.recent, esc)]
    if result.queue is not None:
        lines.append(render(result.queue, esc))
    return "\n".join(lines)


@render.register
def _(result: r.PassiveResult, esc: Escape = plain) -> str:
    lines = []
    for obs, card in result.items:
        if card is None:
            lines.append(f"{esc(obs.value)} ({obs.type.value}): not known to the coalition")
        else:
            ind = card.indicator
            lines.append(f"{esc(obs.value)} ({obs.type.value}): {ind.ref} {card.status.value} · {ind.tlp.label} · "
                         f"votes {tally_text(card.tally)}")
    return "\n".join(lines)


def _lane_line(lane: OutboxLane, esc: Escape) -> str:
    """One workspace lane of the outbox: how many rows wait there, and why."""
    where = "every workspace" if lane.workspace_id is None else f"workspace {esc(lane.workspace_id)}"
    line = f"  {lane.platform.value}, {where}: {lane.rows} waiting (oldest {lane.oldest_seconds:.0f}s)"
    why = []
    if lane.unclaimed and lane.workspace_id is not None:
        why.append(f"{lane.unclaimed} not claimed by any process yet; if that lasts, no running process serves this "
                   "workspace (run one with its own bot token, or install the app there in OAuth mode)")
    if lane.last_error:
        why.append(f"retried after: {esc(lane.last_error)}")
    return line + (f": {'; '.join(why)}" if why else "")


@render.register
def _(result: r.DeliveryList, esc: Escape = plain) -> str:
    lines = [f"Waiting on {platform}: {n} (oldest {age:.0f}s)" for platform, (n, age) in sorted(result.pending.items())]
    if any(lane.workspace_id is not None for lane in result.lanes):
        lines += [_lane_line(lane, esc) for lane in result.lanes]
    if not result.parked:
        lines.append("No parked deliveries.")
    for e in result.parked:
        what = f"case {e.payload['case_id']}" if "case_id" in e.payload and "indicator_id" not in e.payload \
            else f"#{e.payload.get('indicator_id', '?')}"
        lines.append(f"{e.id} {e.platform.value} {e.event} {what} after {e.attempts} attempts: "
                     f"{esc(e.last_error or '')}")
    if result.parked:
        lines.append("Retry one with /ioc admin retry ID.")
    return "\n".join(lines)


@render.register
def _(result: r.Notice, esc: Escape = plain) -> str:
    return "\n".join([esc(result.message), *card_lines(result.card, esc)])


@render.register
def _(result: r.Done, esc: Escape = plain) -> str:
    return esc(result.message)


@render.register
def _(result: r.UserError, esc: Escape = plain) -> str:
    problem = esc(result.problem)
    return f"Sorry: {problem}." + (f"\nUsage: {result.usage}" if result.usage else "")


@render.register
def _(result: r.InternalError, esc: Escape = plain) -> str:
    return f"Something went wrong on our side (reference {result.reference}); the admins can look it up."


# -- STIX/TAXII exchange (bot.exchange) --

@render.register
def _(result: r.FileResult, esc: Escape = plain) -> str:
    return f"{esc(result.summary)}\n(file {esc(result.filename)}, {len(result.data):,} bytes)"


@render.register
def _(result: r.ImportReport, esc: Escape = plain) -> str:
    lines = [f"Import of {esc(result.filename)} ({result.format}): {result.objects} read, "
             f"{result.created_count - result.unmoderated_count} submitted for moderation, "
             + (f"{result.unmoderated_count} stored without moderation as nobody but you may decide them (their "
                "reason says why), " if result.unmoderated_count else "")
             + f"{result.known_count} already known (your "
             "organization's sighting recorded"
             + (f"; updated today's sighting of {result.sightings_updated}" if result.sightings_updated else "")
             + ")."]
    if result.not_applied_count:
        lines.append(f"For {result.not_applied_count} of the known ones this file's TLP, confidence, tags, note or "
                     f"validity differ and were not applied. {NO_EDIT}")
    if result.created:
        more = result.created_count - len(result.created)
        lines.append("New: " + " ".join(result.created) + (f" and {more} more" if more > 0 else ""))
    if result.warninglisted:
        lines.append(f"{result.warninglisted} on a warninglist (flagged for the moderators).")
    if result.skipped:
        lines.append(f"Skipped {sum(n for _, n in result.skipped)}:")
        lines += [f"   {n} × {esc(reason)}" for reason, n in result.skipped]
    if result.read_as_red:
        lines.append(f"{result.read_as_red} with a marking that is not understood: stored at TLP:RED, not at the "
                     "default TLP.")
    if result.notes:
        lines.append("Object by object:")
        lines += [f"   {esc(note)}" for note in result.notes[:20]]
        if result.notes_count > 20:
            lines.append(f"   … and {result.notes_count - 20:,} more")
    if result.stopped:
        lines.append(esc(result.stopped))
    return "\n".join(lines)


@render.register
def _(result: r.ApiKeyCreated, esc: Escape = plain) -> str:
    k = result.api_key
    return (f"API key k{k.id} for {esc(k.org_name)}{f' ({esc(k.name)})' if k.name else ''}: {result.key}\n"
            "It is shown this once; only its hash is stored. Use it as `Authorization: Bearer KEY` (or as the "
            "password of HTTP Basic) on the TAXII server. Revoke it with `/ioc admin apikey revoke "
            f"{k.id}`.")


@render.register
def _(result: r.CaseCard, esc: Escape = plain) -> str:
    case = result.case
    lines = [f"{esc(result.headline)}." if result.headline else "",
             f"Case {esc(case.name)} · {case.tlp.label} · opened by {esc(case.org_name)} {case.created_at:%Y-%m-%d}",
             *([f"   {esc(case.description)}"] if case.description else [])]
    total = sum(n for _, n in result.by_status)
    counts = ", ".join(f"{n} {status}" for status, n in result.by_status)
    who = "this channel" if result.channel else "you"
    lines.append(f"{total} indicator{'s' if total != 1 else ''} {who} may see" + (f": {counts}" if counts else ""))
    for card in result.cards:
        lines += card_lines(card, esc)
    if total > len(result.cards):
        lines.append(f"… and {total - len(result.cards)} older ones")
    return "\n".join(line for line in lines if line)


@render.register
def _(result: r.CaseListResult, esc: Escape = plain) -> str:
    if not result.cases:
        return "No cases you may see: `/ioc case new NAME [tlp:amber] [description...]` opens one."
    return "\n".join(f"{esc(case.name)} · {case.tlp.label} · {esc(case.org_name)} · {n} indicator"
                     f"{'s' if n != 1 else ''}" for case, n in result.cases)


@render.register
def _(result: r.ApiKeyListResult, esc: Escape = plain) -> str:
    if not result.keys:
        return "No API keys: `/ioc admin apikey create ORG [name]`."
    return "\n".join(
        f"k{k.id} {esc(k.org_name)} · {esc(k.name) or 'unnamed'} · {k.prefix}… · created {k.created_at:%Y-%m-%d}"
        + (f" · revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else " · active") for k in result.keys)
