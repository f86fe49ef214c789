"""Who may see what, generated from the rules (issue 10, "Done means", first bullet).

For every TLP × anonymous or not × pending or approved × every viewer (each role of A other than the submitter,
each role of B, and the submitter for the sanity cases) × every place (direct message, an unregistered channel,
channels of ceiling CLEAR, GREEN and AMBER) × both platforms × every verb that can name the probed value V, its
#id or its STIX id (lookup, bare value, search by text/org/tag/type/tlp/status, stats, queue, home, export in
each format, passive mode, vote, withdraw, sighting, approve, reject, revoke, the buttons and a removed reaction,
submit in chat, file import in chat, an organization's import and export as the CLI does them, TAXII GETs and
POST over HTTP), the test compares what the probe produces in a world where A holds V with what it produces in a
world where V is unknown (tests/trust/world.py says how the worlds are built and what is normalised). Which
cases must be identical is computed from `bot.rules`, never hard-coded:

* hidden: the viewer may not see A's item (`can_see` of their private view; for an organization's key, export
  or import, the organization's view) -> everything is byte-identical: reply text, Slack blocks, Discord
  message, file, whether it is private, whether anything was written, the outbox rows and what delivering them
  would post (cards, edits, notices), the audit rows, and the counts the viewer sees afterwards; and A's item
  is untouched (no vote, sighting, status, last_seen or audit row caused by the viewer).
* audience: the viewer may see the item but asks in a channel whose ceiling is below it (`can_feed`) -> what
  the channel sees (the public reply, or that there was none) is byte-identical.
* sanity: the viewer may see the item -> the answer differs between the worlds (else the harness could not see
  anything and every other case would pass vacuously); no probe may end in an internal error in either world.
* anonymity: the item is anonymous and the viewer, outside A, may see it -> no rendering names A (STIX: no
  object but the identity list names A or references A's identity).

Axes that cannot change a probe's code path are not multiplied out for it (see `_places`, `APPROVED_PROBES`,
`ANON_PROBES`, `_postgresql_share`), so that both backends run in about a minute; each world is built once per
backend and restored per probe (tests/trust/world.py `Databases`).

Platforms: every reply is rendered with the plain-text renderer, Slack's Block Kit renderer and Discord's message
renderer (adapters/slack/blocks.py, adapters/discord/render.py, as pure functions); the command itself is typed
on Slack or Discord, alternating over viewers and places so that both platforms' identities are used in every
place.

Cases still failing because their fix is not in yet are marked in `KNOWN_LEAKS` (strict xfail: a fixed leak
makes its cases XPASS, which fails, so the table is kept true).
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from bot import rules
from bot.domain import Indicator, Member, Platform, Role, Status
from bot.ioc import IOCType
from bot.policy import Policy
from bot.tlp import TLP
from tests.trust import world as w
from tests.trust.world import ORG_A, PEOPLE, PLACES, PLATFORMS, SUBMITTER, VIEWERS, Probe

BACKENDS = ("sqlite", "postgresql")
STATUSES = ("pending", "approved")
DEFAULT_CEILING = Policy().default_channel_ceiling

READ_PROBES = [
    Probe("lookup_value", "chat", "lookup {v}"),
    Probe("bare_value", "chat", "{v}"),
    Probe("lookup_id", "chat", "lookup #{id}"),
    Probe("bare_id", "chat", "#{id}"),
    Probe("lookup_stix", "chat", "lookup {stix}"),
    Probe("search_text", "chat", "search v-probe"),
    Probe("search_org", "chat", f"search org:{ORG_A}"),
    Probe("search_tag", "chat", "search tag:{tag}"),
    Probe("search_type", "chat", "search type:domain"),
    Probe("search_tlp", "chat", "search tlp:{tlp}"),
    Probe("search_status", "chat", "search status:{status}"),
    Probe("search_all", "chat", "search"),
    Probe("stats", "chat", "stats"),
    Probe("queue", "chat", "queue"),
    Probe("home", "chat", "home"),
    Probe("export_stix", "chat", "export format:stix status:pending,approved"),
    Probe("export_csv", "chat", "export format:csv status:pending,approved"),
    Probe("export_txt", "chat", "export format:txt status:pending,approved"),
    Probe("passive", "passive", "is {v} bad? also #{id}"),
    Probe("button_lookup", "action", "ioc:lookup:{id}"),
    # issue 12's pivots: A's items found through what is around them (the related section, within:, domain:)
    Probe("lookup_in_net", "chat", f"lookup {w.NET_ADDRESS}"),
    Probe("lookup_parent", "chat", f"lookup {w.PARENT}"),
    Probe("search_within", "chat", f"search within:{w.NET}"),
    Probe("search_domain", "chat", f"search domain:{w.PARENT}"),
]
# What a channel may see answered publicly (lookups are answered in the channel there: ephemeral_lookups off).
AUDIENCE_PROBES = ("lookup_value", "bare_value", "lookup_id", "lookup_stix", "search_text", "search_tag",
                   "search_all", "passive", "lookup_in_net", "lookup_parent", "search_within")
MUTATING_PROBES = [
    Probe("vote_id", "chat", "vote #{id} confirm", mutates=True),
    Probe("vote_stix", "chat", "vote {stix} fp looks benign", mutates=True),
    Probe("vote_value", "chat", "vote {v} confirm", mutates=True),
    Probe("withdraw_id", "chat", "vote #{id} withdraw", mutates=True),
    Probe("sighting_id", "chat", "sighting #{id} count:5", mutates=True),
    Probe("sighting_value", "chat", "sighting {v}", mutates=True),
    Probe("approve_id", "chat", "approve #{id}", mutates=True),
    Probe("approve_value", "chat", "approve {v}", mutates=True),
    Probe("reject_id", "chat", "reject #{id} bogus", mutates=True),
    Probe("revoke_id", "chat", "revoke #{id} bogus", mutates=True),
    Probe("button_vote", "action", "ioc:vote:{id}:false_positive", mutates=True),
    Probe("button_approve", "action", "ioc:approve:{id}", mutates=True),
    Probe("button_reject", "action", "ioc:reject:{id}|bogus", mutates=True),
    Probe("reaction_removed", "unreact", "{id}", mutates=True),
]
MODERATION_PROBES = ("approve_id", "approve_value", "reject_id", "revoke_id", "button_approve", "button_reject")
MUTATING_PLACES = ("dm", "amber")
CREATING_PROBES = [
    Probe("submit", "chat", "submit {v} tlp:green conf:60 tags:mine we saw it", creates=True, mutates=True),
    Probe("import_txt", "file", "probe.txt:txt", creates=True, mutates=True),
    Probe("import_stix", "file", "probe.json:stix", creates=True, mutates=True),
]
ORG_CREATING_PROBES = [
    Probe("cli_import", "org_import", creates=True, mutates=True),
    Probe("taxii_post", "taxii_post", creates=True, mutates=True),
]
TAXII_PROBES = [
    Probe("taxii_objects", "taxii_get", "objects/"),
    Probe("taxii_manifest", "taxii_get", "manifest/"),
    Probe("taxii_object", "taxii_get", "objects/{stix}/"),
    Probe("taxii_versions", "taxii_get", "objects/{stix}/versions/"),
    Probe("cli_export_stix", "org_export", "stix"),
    Probe("cli_export_csv", "org_export", "csv"),
]
ORG_KINDS = ("org_import", "taxii_post", "taxii_get", "org_export")  # an organization, not a person, asks
ORG_VIEWERS = {"a_member2": ORG_A, "b_member": w.ORG_B}  # whose organization's key / import is used
ANONYMITY_PROBES = ("lookup_value", "search_tag", "search_all", "home", "queue", "export_stix", "export_csv",
                    "passive", "taxii_objects", "cli_export_stix", "cli_export_csv")


# ---------------------------------------------------------------- the rules' inputs, as the worlds build them

_ORG_IDS = {name: n for n, (name, _, _) in enumerate(w.ORGANIZATIONS, start=1)}


def member(name: str) -> Member:
    n, (_, org, role) = next((n, p) for n, p in enumerate(PEOPLE, start=1) if p[0] == name)
    return Member(n, name, role, _ORG_IDS[org], org)


def service_member(org: str) -> Member:
    """The organization's import member (bot.services.service_member: role member, created on first use)."""
    return Member(len(PEOPLE) + 1, "cli import", Role.MEMBER, _ORG_IDS[org], org)


def item(tlp: TLP, anonymous: bool, status: str) -> Indicator:
    at = w.BUILT_AT
    submitter = member(SUBMITTER)
    return Indicator(id=2, stix_id="indicator--00000000-0000-4000-8000-000000000002", type=IOCType.DOMAIN, value=w.V,
                     status=Status(status), tlp=tlp, confidence=70, tags=(w.TAG,), note=w.NOTE,
                     submitter_id=submitter.id, submitter_name=submitter.name, org_id=submitter.org_id,
                     org_name=submitter.org_name, anonymous=anonymous, first_seen=at, last_seen=at, valid_until=None,
                     created_at=at, modified_at=at)


def ceiling_of(place: str) -> TLP:
    return PLACES[place] or DEFAULT_CEILING


def may_see(viewer: Member, ind: Indicator) -> bool:
    return rules.can_see(ind, rules.visibility(viewer, private=True, ceiling=DEFAULT_CEILING))


def channel_may_see(place: str, ind: Indicator) -> bool:
    return rules.can_feed(ind, ceiling_of(place))


def platform_for(viewer: str, place: str) -> Platform:
    return PLATFORMS[(VIEWERS.index(viewer) + list(PLACES).index(place)) % 2]


# ---------------------------------------------------------------- cases

@dataclass(frozen=True)
class Case:
    backend: str
    tlp: TLP
    anonymous: bool
    status: str
    viewer: str
    platform: Platform
    place: str
    probe: Probe
    checks: tuple[str, ...]  # hidden | audience | sanity | anonymity

    @property
    def family(self) -> str:
        return "create" if self.probe.creates else "read"

    @property
    def group(self) -> tuple[Any, ...]:
        return self.backend, self.tlp, self.anonymous, self.status, self.family

    @property
    def job(self) -> w.Job:
        return self.viewer, self.platform, self.place, self.probe

    @property
    def id(self) -> str:
        return (f"{self.backend}-{self.tlp.value}-{'anon' if self.anonymous else 'named'}-{self.status}-"
                f"{self.probe.name}-{self.viewer}-{self.platform.value}-{self.place}")


def _checks(tlp: TLP, anonymous: bool, status: str, viewer: str, place: str, probe: Probe) -> tuple[str, ...]:
    ind = item(tlp, anonymous, status)
    org_level = probe.kind in ORG_KINDS
    if org_level:
        org = ORG_VIEWERS[viewer]
        sees = (rules.can_see(ind, rules.organization_visibility(_ORG_IDS[org]))
                if probe.kind in ("taxii_get", "org_export")
                else may_see(service_member(org), ind))
    else:
        who = member(viewer)
        sees = may_see(who, ind)
        if probe.kind == "passive" and place != "dm":
            sees = channel_may_see(place, ind)  # passive answers for the channel's audience
    found = []
    if not sees:
        found.append("hidden")
    elif place != "dm" and not channel_may_see(place, ind) and probe.name in AUDIENCE_PROBES:
        found.append("audience")
    if sees and place == "dm" and _sanity(tlp, anonymous, status, viewer, probe):
        found.append("sanity")
    outside = member(viewer).org_name != ORG_A if not org_level else ORG_VIEWERS[viewer] != ORG_A
    if anonymous and sees and outside and probe.name in ANONYMITY_PROBES:
        found.append("anonymity")
    return tuple(found)


SANITY_WHEN_APPROVED = ("lookup_value", "search_status", "search_all", "stats", "export_stix", "export_csv",
                        "export_txt")


def _sanity(tlp: TLP, anonymous: bool, status: str, viewer: str, probe: Probe) -> bool:
    """Non-vacuity: the submitter's lookup in every group, every read probe of A's admin (who may see all of A's
    items) on the named AMBER+STRICT and RED items, and A's own key and export on its AMBER+STRICT item
    must see the held item, i.e. differ between the worlds: a probe that is mistyped, refused or broken for
    everyone would pass every hidden case without testing it."""
    if viewer == SUBMITTER:
        return probe.name == "lookup_value"
    if probe.kind in ORG_KINDS:  # A's own key and export see A's AMBER+STRICT item (an import at the default
        # TLP lands in the shared scope, a new item even for A: no sanity case there)
        org_probes = ("taxii_objects", "cli_export_stix") if status == "approved" else ("cli_export_csv",)
        return ORG_VIEWERS.get(viewer) == ORG_A and tlp is TLP.AMBER_STRICT and not anonymous and \
            probe.name in org_probes
    if viewer != "a_admin" or anonymous or tlp not in (TLP.AMBER_STRICT, TLP.RED) or probe not in READ_PROBES:
        return False
    return probe.kind == "chat" and (status == "pending" or probe.name in SANITY_WHEN_APPROVED)


def _audience_viewers(ind: Indicator) -> list[str]:
    """Who asks in a channel about an item they may see: its submitter (whoever asks, the service answers with
    the asker's private rights and bot.audience decides what the channel sees)."""
    return [SUBMITTER] if may_see(member(SUBMITTER), ind) else []


ALL_PROBES = READ_PROBES + MUTATING_PROBES + TAXII_PROBES + CREATING_PROBES + ORG_CREATING_PROBES
# Axes that do not change a probe's code path are not multiplied out for it (keeps both backends under a minute):
# an approved item is probed by what treats approved items differently (exports, feeds, revoke, status filters,
# the cards), an anonymous one by what shows or filters by organization; everything is probed on a pending one.
APPROVED_PROBES = ("lookup_value", "search_status", "search_all", "stats", "export_stix", "export_csv", "export_txt",
                   "passive", "vote_id", "sighting_id", "revoke_id", "taxii_objects", "taxii_manifest",
                   "taxii_object", "taxii_versions", "cli_export_stix", "cli_export_csv", "lookup_in_net",
                   "lookup_parent")
ANON_PROBES = ("lookup_value", "search_org", "search_all", "stats", "home", "export_stix", "export_csv", "passive",
               "vote_id", "submit", "cli_import", "taxii_objects", "cli_export_csv", "lookup_in_net")


def _places(probe: Probe, viewer: str, listeners: list[str]) -> tuple[str, ...]:
    """Where a probe is typed. The services answer with the speaker's private rights wherever they speak; the
    place decides only whether the channel sees the answer (bot.audience) and what passive mode shows."""
    if probe.kind in ORG_KINDS:
        return ("dm",)  # an organization's key or import: no place
    everywhere = viewer in listeners or viewer == "b_member"
    if probe.kind == "passive":  # answers for the channel, whoever wrote the message
        return tuple(PLACES) if everywhere else ()
    if everywhere and probe.name in AUDIENCE_PROBES:
        return tuple(PLACES)
    if everywhere:
        return MUTATING_PLACES
    return (ONE_PLACE.get(viewer, "dm"),)  # B's member asks everywhere; the others in one place each


ONE_PLACE = {"a_member2": "amber", "b_admin": "amber"}  # the hidden viewers other than b_member, split over both


def _anonymity_viewer(probe: Probe, tlp: TLP, status: str) -> str | None:
    """Who looks for A's name behind an anonymous item: B's member, or B's moderator where only moderators see
    it (RED) or the probe is for moderators (the queue)."""
    if probe.kind in ORG_KINDS:
        return "b_member"  # the key of B
    ind = item(tlp, True, status)
    candidates = ("b_moderator",) if probe.name == "queue" else ("b_member", "b_moderator")
    return next((v for v in candidates if may_see(member(v), ind)), None)


def _case(backend: str, tlp: TLP, anonymous: bool, status: str, viewer: str, place: str, probe: Probe,
          listeners: list[str]) -> Case | None:
    if probe.name in MODERATION_PROBES and not rules.can_moderate(member(viewer)):
        return None  # refused by role before any item is looked at
    checks = set(_checks(tlp, anonymous, status, viewer, place, probe))
    if anonymous and probe.name not in ANON_PROBES:
        checks -= {"hidden", "audience"}
    if viewer not in listeners or status != "pending" or probe.mutates:
        checks.discard("audience")  # the channel is checked with two askers, on pending items
    if place not in MUTATING_PLACES or viewer != _anonymity_viewer(probe, tlp, status):
        checks.discard("anonymity")
    if not checks:
        return None
    org_level = probe.kind in ORG_KINDS
    platform = Platform.SLACK if org_level else platform_for(viewer, place)
    return Case(backend, tlp, anonymous, status, viewer, platform, place, probe, tuple(sorted(checks)))


def generate() -> list[Case]:
    cases: list[Case] = []
    for backend, tlp, anonymous, status in itertools.product(BACKENDS, TLP, (False, True), STATUSES):
        listeners = _audience_viewers(item(tlp, anonymous, status))
        for probe in ALL_PROBES:
            if (status == "approved" and probe.name not in APPROVED_PROBES) or (probe.creates and status != "pending"):
                continue
            viewers = ORG_VIEWERS if probe.kind in ORG_KINDS else VIEWERS
            for viewer in viewers:
                for place in _places(probe, viewer, listeners):
                    case = _case(backend, tlp, anonymous, status, viewer, place, probe, listeners)
                    if case is not None:
                        cases.append(case)
    cases = _postgresql_share(cases)
    cases.sort(key=lambda c: (BACKENDS.index(c.backend), c.tlp.rank, c.anonymous, STATUSES.index(c.status),
                              c.family))
    return cases


def _postgresql_share(cases: list[Case]) -> list[Case]:
    """PostgreSQL runs what its SQL decides: every hidden and anonymity case of the read family (visibility
    filters, counts, exports and feeds are queries), and of the creating family (the per-scope uniqueness) the
    first hidden viewer in a direct message; the channel-audience cases (decided in Python by bot.audience,
    after the same queries) run on SQLite only. A group kept for other checks keeps its sanity case."""
    kept: list[Case] = []
    first_creator: dict[tuple[Any, ...], str] = {}
    for c in cases:
        if c.backend != "postgresql":
            kept.append(c)
            continue
        if c.probe.creates:
            key = (c.tlp, c.anonymous, c.probe.name)
            if "sanity" in c.checks or (c.place == "dm" and first_creator.setdefault(key, c.viewer) == c.viewer):
                kept.append(c)
            continue
        checks = tuple(k for k in c.checks if k != "audience")
        if checks:
            kept.append(Case(c.backend, c.tlp, c.anonymous, c.status, c.viewer, c.platform, c.place, c.probe, checks))
    groups = {c.group for c in kept if set(c.checks) - {"sanity"}}
    return [c for c in kept if c.backend != "postgresql" or c.group in groups]


# ---------------------------------------------------------------- leaks whose fix is not in yet

def _probe(*names: str) -> Callable[[Case], bool]:
    return lambda c: c.probe.name in names


# (which cases, why): every matching case must fail (strict xfail); remove a row when its fix lands.
KNOWN_LEAKS: list[tuple[Callable[[Case], bool], str]] = []


def _param(case: Case) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=reason) for match, reason in KNOWN_LEAKS if match(case)]
    return pytest.param(case, id=case.id, marks=marks[:1])


CASES = generate()


# ---------------------------------------------------------------- running a group once, comparing per case

_observed: dict[tuple[Any, ...], dict[w.Job, tuple[dict[str, Any], dict[str, Any]]]] = {}
_GROUPS: dict[tuple[Any, ...], list[Case]] = {}  # the cases of each group, in order (found once, not per case)
for _c in CASES:
    _GROUPS.setdefault(_c.group, []).append(_c)


def _observe_group(case: Case, databases: w.Databases) -> dict[w.Job, tuple[dict[str, Any], dict[str, Any]]]:
    if case.group not in _observed:
        _observed.clear()  # cases come group by group: keep only the current one
        jobs = list(dict.fromkeys(c.job for c in _GROUPS[case.group]))
        compared = {c.job for c in _GROUPS[case.group] if set(c.checks) - {"anonymity"}}
        extra = {"tlp": w.tlp_token(case.tlp), "status": case.status}
        fresh = case.family == "create"

        async def both() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            refs, held = await w.run_jobs(databases, "held", tlp=case.tlp, anonymous=case.anonymous,
                                          status=case.status, jobs=jobs, refs=None, fresh_each=fresh, extra=extra)
            ref_jobs = [j for j in jobs if j in compared]  # anonymity looks at the held world only
            _, unknown = await w.run_jobs(databases, "other" if fresh else "absent", tlp=case.tlp,
                                          anonymous=case.anonymous, status=case.status, jobs=ref_jobs, refs=refs,
                                          fresh_each=fresh, extra=extra)
            found = dict(zip(ref_jobs, unknown, strict=True))
            return held, [found.get(j, {}) for j in jobs]

        held, unknown = w.run(both())
        _observed[case.group] = {job: (h, u) for job, h, u in zip(jobs, held, unknown, strict=True)}
    return _observed[case.group]


def _difference(key: str, held: Any, unknown: Any) -> str:
    a, b = str(held).splitlines() or [""], str(unknown).splitlines() or [""]
    diff = list(difflib.unified_diff(b, a, "V unknown", "V held", lineterm="", n=0))
    text = "\n".join(diff[2:14]) if diff else f"held={held!r}\nunknown={unknown!r}"
    return f"--- {key} ---\n{text[:1500]}"


COMPARED = ("private", "text", "slack", "discord", "public", "file", "error", "changed", "outbox", "audit",
            "delivery", "after", "status", "body", "pages")
RENDERED = ("text", "slack", "discord", "public", "delivery", "body")  # and files other than STIX bundles


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_who_sees_what(case: Case, trust_databases: Callable[[str], w.Databases]) -> None:
    held, unknown = _observe_group(case, trust_databases(case.backend))[case.job]
    who = (f"{case.probe.name} ({case.probe.text or case.probe.kind}) by {case.viewer} ({member(case.viewer).role}"
           f" of {member(case.viewer).org_name}) in {case.place} on {case.platform.value}, about a "
           f"{case.tlp.label} {'anonymous ' if case.anonymous else ''}{case.status} item of {ORG_A}")
    problems = []
    if "hidden" in case.checks:
        differ = [k for k in COMPARED if held.get(k) != unknown.get(k)]
        if differ:
            problems.append(f"LEAK to someone who may not see it: {', '.join(differ)} differ from the answer for "
                            "an unknown value\n" + "\n".join(_difference(k, held.get(k), unknown.get(k))
                                                             for k in differ[:3]))
        if held.get("item_before") != held.get("item_after"):
            problems.append("LEAK: A's item was changed by someone who may not see it\n"
                            + _difference("item", held.get("item_after"), held.get("item_before")))
    if "audience" in case.checks and held.get("public") != unknown.get("public"):
        problems.append(f"LEAK to the {case.place} channel (ceiling {ceiling_of(case.place).label}), which may not "
                        "see it: what the channel sees differs from the answer for an unknown value\n"
                        + _difference("public", held.get("public"), unknown.get("public")))
    if "sanity" in case.checks:
        assert any(held.get(k) != unknown.get(k) for k in ("text", "file", "pages")), \
            f"the harness sees no difference for {who} (who may see the item): it cannot detect leaks"
    crashed = [k for k, seen in (("V held", held), ("V unknown", unknown)) if "Something went wrong" in
               str(seen.get("text")) or str(seen.get("status")).startswith("5")]
    if crashed:
        problems.append(f"INTERNAL ERROR in the world where {' and '.join(crashed)}: a crash hides what it "
                        f"would answer\n{held.get('text') or held.get('body')}")
    if "anonymity" in case.checks:
        named = [k for k in RENDERED if ORG_A in str(held.get(k) or "")]
        if "attributed" in held:  # a STIX bundle or feed: its objects about items, not the identity list
            named += ["STIX objects"] if held["attributed"] else []
        elif ORG_A in str(held.get("file") or ""):
            named.append("file")
        if named:
            problems.append(f"ANONYMITY broken: {', '.join(named)} name {ORG_A}\n"
                            + "\n".join(_difference(k, held.get("attributed" if k == "STIX objects" else k), "")
                                        for k in named[:2]))
    assert not problems, f"{who}:\n" + "\n".join(problems)


def test_the_generated_matrix_covers_every_axis() -> None:
    """The generator may not silently drop an axis (e.g. a rules change that makes every case 'visible')."""
    hidden = [c for c in CASES if "hidden" in c.checks]
    assert {c.tlp for c in hidden} >= {TLP.AMBER_STRICT, TLP.RED}
    assert {c.viewer for c in hidden} >= {"a_member2", "b_member", "b_moderator", "b_admin"}
    assert {c.place for c in hidden} == set(PLACES) and {c.platform for c in hidden} == set(PLATFORMS)
    assert {c.anonymous for c in hidden} == {False, True} and {c.status for c in hidden} == set(STATUSES)
    every = {p.name for p in ALL_PROBES}
    assert {c.probe.name for c in hidden} == every
    assert {c.tlp for c in CASES if "audience" in c.checks} >= {TLP.AMBER, TLP.AMBER_STRICT, TLP.RED}
    assert any("sanity" in c.checks for c in CASES) and any("anonymity" in c.checks for c in CASES)


# ---------------------------------------------------------------- anonymity of what is delivered

@pytest.mark.parametrize("count", [1, 21], ids=["one-card", "big-batch"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_anonymous_submissions_are_delivered_without_their_organization(
        backend: str, count: int, trust_databases: Callable[[str], w.Databases]) -> None:
    """A's submitter submits anonymously (one value: a card per moderation channel; more than 20: one line per
    moderation channel), a moderator approves, a member of C votes and sights: every planned delivery (channel
    cards, edits, one-line notices) says "a coalition member", never A's name; only the submitter's own notices
    (direct messages to a member of A) may name it."""
    databases = trust_databases(backend)
    values = " ".join(f"anon{n}.probe.example" for n in range(count))
    refs = " ".join(f"#{n}" for n in range(2, count + 2))

    async def scenario() -> list[str]:
        url = await databases.empty_url()
        world = await w.build(url, "absent", tlp=TLP.GREEN, anonymous=True, status="pending")
        try:
            mark = await w.marks(world.store)
            for who, text in ((SUBMITTER, f"submit {values} tlp:green anon tags:{w.TAG} from our SOC"),
                              ("b_moderator", f"approve {refs}"), ("c_member", "vote #2 confirm"),
                              ("c_member", "sighting #2")):
                answer = await world.dispatcher.handle_text(text, w.actor(who, Platform.SLACK, "dm"))
                assert not isinstance(answer.result, w.UserError | w.InternalError), (text, answer.result)
            _, _, planned = await w.written_since(world, mark)
            return planned
        finally:
            await w.close(world)
            databases.discard(url)

    planned = w.run(scenario())
    to_a = {f'"dm", "{p}", "{n}"' for n, org, _ in PEOPLE if org == ORG_A for p in ("slack", "discord")}
    shared = [d for d in planned if not any(d.startswith(f"[{t}") for t in to_a)]
    assert any('"post"' in d or '"text"' in d for d in shared), f"nothing was planned for the channels: {planned}"
    named = [d for d in shared if ORG_A in d]
    assert not named, f"ANONYMITY broken: {len(named)} deliveries to channels name {ORG_A}:\n" + "\n".join(
        d[:400] for d in named[:5])
