"""Parsing: `parse(text)`, one function per verb, the admin forms included."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from contextlib import contextmanager

from bot import context, limits
from bot.domain import Status, Verdict
from bot.ioc import IOCType, Observable, classify
from bot.watch_index import HOW, TargetError, WatchKind, parse_target

from .admin_grammar import _admin
from .model import (
    EXPORT_FORMATS,
    Approve,
    CaseAdd,
    CaseList,
    CaseNew,
    CaseRemove,
    CaseShow,
    Command,
    Comment,
    Edit,
    Export,
    Help,
    Join,
    Link,
    Lookup,
    Queue,
    Reject,
    Reopen,
    Revoke,
    Search,
    Sighting,
    Stats,
    Submit,
    Vote,
    WatchAdd,
    WatchList,
    WatchRemove,
    WhoAmI,
    Why,
)
from .refs import Ref
from .tokens import (
    _ID,
    _OPTION,
    _TRAILING,
    _VALUE_HINT,
    _enum_option,
    _int_option,
    _on_off,
    _Options,
    _shown,
    _split_list,
    _text,
    _tlp_option,
    parse_duration,
    parse_ref,
    tokenize,
)
from .usage import VERBS, UsageError


def parse(text: str) -> Command:
    """Parse the text after `/ioc`: a Command, or UsageError (and nothing else) for any text at all."""
    if problem := limits.text_problem(text):
        first = text.split()[0].lower() if text.split() else ""
        raise UsageError(f"{_where_bad(text)} {problem}", first if first in VERBS else None)
    tokens = tokenize(text.strip())
    if not tokens:
        return Help()
    verb, args = tokens[0].lower(), tokens[1:]
    parser = _PARSERS.get(verb)
    if parser:
        return parser(args)
    if _ID.fullmatch(tokens[0]) or classify(tokens[0].rstrip(_TRAILING)) is not None:
        return _lookup(tokens)
    raise UsageError(
        f"'{_shown(tokens[0])}' is not a verb I know. Verbs: {', '.join(VERBS)}. A bare value or #ID looks it up.",
        "help")


_OPTION_KEYS = frozenset({"tlp", "conf", "confidence", "tags", "tag", "valid", "note", "count", "type", "status",
                          "org", "since", "page", "sector", "trust", "role", "uses", "expires", "ceiling", "purpose",
                          "passive", "ephemeral", "format", "digest", "self", "within", "domain",
                          "text", "threat", "malware", "ref", "case"})


def _where_bad(text: str) -> str:
    """The word (or option) of a command that holds a character the store refuses: `the note`, `tags:`..."""
    for token in text.split():
        if limits.text_problem(token):
            m = _OPTION.match(token)
            if m and m.group(1).lower() in _OPTION_KEYS:
                return f"the option {m.group(1).lower()}:"
            return f"the word '{_shown(token, 40)}'"
    return "the command"


@contextmanager
def _context_error(verb: str) -> Iterator[None]:
    """bot.context's errors as this verb's usage errors."""
    try:
        yield
    except context.ContextError as e:
        raise UsageError(str(e), verb) from None


def _refs_apart(args: list[str]) -> tuple[list[str], list[str]]:
    """`ref:URL` may be given more than once: (the other tokens, the references given)."""
    rest: list[str] = []
    refs: list[str] = []
    for token in args:
        m = _OPTION.match(token)
        if m and m.group(1).lower() == "ref":
            refs.append(m.group(2))
        else:
            rest.append(token)
    return rest, refs


def _submit(args: list[str]) -> Submit:
    verb = "submit"
    args, refs = _refs_apart(args)
    opts = _Options(args, {"tlp", "conf", "confidence", "tags", "tag", "valid", "note", "threat", "malware", "case"},
                    verb)
    values: list[Observable] = []
    note_words: list[str] = []
    flags = {"anon": False, "override": False}
    for token in opts.rest:
        if not note_words and token.lower() in flags:
            flags[token.lower()] = True
            continue
        rejected: list[tuple[Observable, str]] = []
        obs = classify(token.rstrip(_TRAILING), rejected=rejected) if not note_words else None
        if obs is not None:
            values.append(obs)
        elif not note_words and rejected:
            raise UsageError(f"'{_shown(token)}' cannot be stored: {rejected[0][1]}; shorten it or leave it out",
                             verb)
        elif not note_words and _VALUE_HINT.search(token):
            raise UsageError(
                f"'{_shown(token)}' looks like an indicator but is not a valid one (check the digits, dots and "
                "length); fix it or put free text after the values", verb)
        else:
            note_words.append(token)
    if not values:
        raise UsageError("give at least one indicator value to submit", verb)
    note = _text("note", " ".join(filter(None, [opts.get("note") or "", " ".join(note_words)])).strip(), verb,
                 limits.NOTE_MAX)
    tags_raw = ",".join(v for v in (opts.get("tags"), opts.get("tag")) if v)
    confidence = opts.get("conf") or opts.get("confidence")
    with _context_error(verb):
        threat = context.threat_type(opts.get("threat") or "") if opts.get("threat") is not None else ""
        malware = context.malware_name(opts.get("malware") or "") if opts.get("malware") is not None else ""
        references = context.references(refs) if refs else ()
    if refs and not references:
        raise UsageError("ref: needs a URL, e.g. ref:https://example.org/report", verb)
    return Submit(
        values=tuple(dict.fromkeys(values)),
        tlp=_tlp_option(opts.get("tlp"), verb) if opts.get("tlp") else None,
        confidence=_int_option("conf", confidence, verb, 0, 100) if confidence else None,
        tags=_valid_tags(_split_list(tags_raw), verb),
        note=note,
        anonymous=flags["anon"],
        valid_for=parse_duration(opts.get("valid"), verb, "valid") if opts.get("valid") else None,
        override=flags["override"],
        threat_type=threat, malware=malware, references=references,
        case=_case_name(opts.get("case") or "", verb) if opts.get("case") is not None else "",
    )


_TAG = re.compile(rf"[a-z0-9][a-z0-9._:/+-]{{0,{limits.TAG_MAX_LEN - 1}}}")  # fullmatch


def _valid_tags(tags: tuple[str, ...], verb: str) -> tuple[str, ...]:
    for tag in tags:
        if not _TAG.fullmatch(tag):
            raise UsageError(f"tag '{_shown(tag)}' is not valid; tags are letters, digits and . _ : / + - (up to "
                             f"{limits.TAG_MAX_LEN})", verb)
    if len(tags) > limits.TAG_MAX_COUNT:
        raise UsageError(f"at most {limits.TAG_MAX_COUNT} tags, not {len(tags)}", verb)
    return tags


def _lookup(args: list[str]) -> Lookup:
    if not args:
        raise UsageError("give at least one value or #ID to look up", "lookup")
    refs: list[Ref] = []
    invalid: list[str] = []
    for token in args:
        try:
            refs.append(parse_ref(token, "lookup"))
        except UsageError:
            invalid.append(token)
    if not refs:
        raise UsageError(f"none of these is an indicator or #ID: {' '.join(invalid[:5])}", "lookup")
    return Lookup(tuple(dict.fromkeys(refs)), tuple(invalid))


_VERDICTS = {
    "confirm": Verdict.CONFIRM, "confirmed": Verdict.CONFIRM, "yes": Verdict.CONFIRM, "+1": Verdict.CONFIRM,
    "fp": Verdict.FALSE_POSITIVE, "false_positive": Verdict.FALSE_POSITIVE,
    "false-positive": Verdict.FALSE_POSITIVE, "falsepositive": Verdict.FALSE_POSITIVE,
    "-1": Verdict.FALSE_POSITIVE,
}


def _vote(args: list[str]) -> Vote:
    if len(args) < 2:
        raise UsageError("a vote needs an indicator and a verdict", "vote")
    ref = parse_ref(args[0], "vote")
    word = args[1].lower()
    if word in {"withdraw", "none", "clear"}:
        return Vote(ref, None)
    if word not in _VERDICTS:
        raise UsageError(f"'{args[1]}' is not a verdict; use confirm, fp (false positive) or withdraw", "vote")
    return Vote(ref, _VERDICTS[word], _text("reason", " ".join(args[2:]).strip(), "vote", limits.REASON_MAX))


def _sighting(args: list[str]) -> Sighting:
    opts = _Options(args, {"count"}, "sighting")
    if not opts.rest:
        raise UsageError("say which indicator you saw", "sighting")
    count = (_int_option("count", opts.get("count"), "sighting", 1, limits.SIGHTING_COUNT_MAX)
             if opts.get("count") else 1)
    return Sighting(parse_ref(opts.rest[0], "sighting"), count,
                    _text("note", " ".join(opts.rest[1:]), "sighting", limits.REASON_MAX))


_STATUS_ALIASES = {"pending": "pending", "open": "pending"}


_TYPE_ALIASES = {"ip": "ipv4", "hash": "", "hostname": "domain", "cve-id": "cve"}


_SEARCH_KEYS = frozenset({"type", "tag", "tags", "status", "org", "since", "tlp", "page", "within", "domain", "text",
                          "threat", "malware"})


_SEARCH_KEYS |= {"min_score"}  # issue 13's score


ORG_WORDS_MAX = 8  # an organization's name continued after org: is at most this many more words


def _org_more(args: list[str]) -> list[int]:
    """The positions of the words right after `org:NAME`, up to the next option of search."""
    for at, token in enumerate(args):
        m = _OPTION.match(token)
        if m and m.group(1).lower() == "org":
            more = []
            for n, word in enumerate(args[at + 1:at + 1 + ORG_WORDS_MAX], start=at + 1):
                o = _OPTION.match(word)
                if o and o.group(1).lower() in _SEARCH_KEYS:
                    break
                more.append(n)
            return more
    return []


def _search_network(raw: str, verb: str) -> str:
    found = classify(raw.strip())
    if found is None or found.type not in (IOCType.IPV4, IOCType.IPV6, IOCType.CIDR):
        raise UsageError(f"within: takes an IP address or a CIDR (within:198.51.100.0/24), not '{_shown(raw)}'", verb)
    return str(ipaddress.ip_network(found.value, strict=False))


def _search_domain(raw: str, verb: str) -> str:
    found = classify(raw.strip())
    if found is None or found.type is not IOCType.DOMAIN:
        raise UsageError(f"domain: takes a domain name (domain:northbank.example), not '{_shown(raw)}'", verb)
    return found.value


def _search(args: list[str]) -> Search:
    verb = "search"
    opts = _Options(args, set(_SEARCH_KEYS), verb)
    types: list[IOCType] = []
    for raw in _split_list(opts.get("type") or ""):
        types.append(_enum_option(IOCType, "type", raw, verb, _TYPE_ALIASES))
    statuses = tuple(_enum_option(Status, "status", raw, verb, _STATUS_ALIASES)
                     for raw in _split_list(opts.get("status") or ""))
    tags = _search_tags(_split_list(",".join(v for v in (opts.get("tag"), opts.get("tags")) if v)), verb)
    org = opts.get("org") or None
    more: list[int] = []
    if org is not None:
        _text("org", org, verb, limits.ORG_NAME_MAX, multiline=False)
        more = _org_more(args)
    # the words after org: are left out of the text; the service gives back to it those that are not the name
    rest = [t for n, t in enumerate(args) if n not in more and not (
        (m := _OPTION.match(t)) and m.group(1).lower() in _SEARCH_KEYS)]
    return Search(
        types=tuple(types),
        tags=tags,
        statuses=statuses,
        org=org,
        since=parse_duration(opts.get("since"), verb, "since") if opts.get("since") else None,
        tlp=_tlp_option(opts.get("tlp"), verb) if opts.get("tlp") else None,
        text=_text("search text", " ".join(rest), verb, limits.SEARCH_TEXT_MAX),
        page=_int_option("page", opts.get("page"), verb, 1, limits.PAGE_MAX) if opts.get("page") else 1,
        org_more=tuple(args[n] for n in more),
        within=_search_network(opts.get("within") or "", verb) if opts.get("within") is not None else "",
        domain=_search_domain(opts.get("domain") or "", verb) if opts.get("domain") is not None else "",
        notes_text=_text("text", opts.get("text") or "", verb, limits.SEARCH_TEXT_MAX, multiline=False),
        min_score=_min_score(opts, verb),
        **_search_context(opts, verb),
    )


def _search_context(opts: _Options, verb: str) -> dict[str, tuple[str, ...]]:
    """threat:botnet_cc,phishing and malware:emotet filters (issue 13): an unknown threat type is an error."""
    with _context_error(verb):
        return {"threat_types": tuple(context.threat_type(t) for t in _split_list(opts.get("threat") or "")),
                "malware": tuple(dict.fromkeys(context.malware_name(m)
                                               for m in _split_list(opts.get("malware") or "")))}


def _min_score(opts: _Options, verb: str) -> int | None:
    raw = opts.get("min_score")
    return _int_option("min_score", raw, verb, 0, 100) if raw is not None else None


def _search_tags(tags: tuple[str, ...], verb: str) -> tuple[str, ...]:
    """Search filters: any text (a tag that cannot exist matches nothing), within the limits of a tag."""
    if len(tags) > limits.TAG_MAX_COUNT:
        raise UsageError(f"search at most {limits.TAG_MAX_COUNT} tags at a time, not {len(tags)}", verb)
    for tag in tags:
        _text("tag", tag, verb, limits.TAG_MAX_LEN, multiline=False)
    return tags


def _queue(args: list[str]) -> Queue:
    opts = _Options(args, {"page"}, "queue")
    if opts.rest:
        raise UsageError(f"unexpected '{opts.rest[0]}'", "queue")
    return Queue(_int_option("page", opts.get("page"), "queue", 1, limits.PAGE_MAX) if opts.get("page") else 1)


def _refs_then_text(args: list[str], verb: str) -> tuple[tuple[Ref, ...], str]:
    refs: list[Ref] = []
    i = 0
    while i < len(args) and _ID.fullmatch(args[i].rstrip(_TRAILING)):
        refs.append(parse_ref(args[i], verb))
        i += 1
    if not refs and args:
        refs.append(parse_ref(args[0], verb))
        i = 1
    if not refs:
        raise UsageError("say which indicator, e.g. #42", verb)
    return tuple(dict.fromkeys(refs)), " ".join(args[i:]).strip()


def _approve(args: list[str]) -> Approve:
    refs, note = _refs_then_text(args, "approve")
    return Approve(refs, _text("note", note, "approve", limits.REASON_MAX))


def _reject(args: list[str]) -> Reject:
    refs, reason = _refs_then_text(args, "reject")
    if not reason:
        raise UsageError("a rejection needs a reason, so the submitter learns why", "reject")
    return Reject(refs, _text("reason", reason, "reject", limits.REASON_MAX))


def _revoke(args: list[str]) -> Revoke:
    refs, reason = _refs_then_text(args, "revoke")
    if not reason:
        raise UsageError("a revocation needs a reason, so the coalition learns why", "revoke")
    return Revoke(refs, _text("reason", reason, "revoke", limits.REASON_MAX))


def _join(args: list[str]) -> Join:
    if len(args) != 1:
        raise UsageError("give exactly one invite code", "join")
    return Join(_text("code", args[0].strip(), "join", limits.INVITE_CODE_MAX, multiline=False))


def _link(args: list[str]) -> Link:
    if not args or (len(args) == 1 and args[0].lower() == "start"):
        return Link()
    if len(args) != 1:
        raise UsageError("give one link code, or nothing (or `start`) to get one", "link")
    code = _text("code", args[0].strip(), "link", limits.INVITE_CODE_MAX, multiline=False)
    return Link(code.upper())


_WATCH_ID = re.compile(r"[Ww]?([0-9]{1,18})")  # fullmatch


def _watch(args: list[str]) -> Command:
    verb = "watch"
    form = args[0].lower() if args else ""
    if form == "list":
        if len(args) > 1:
            raise UsageError("watch list takes no arguments", verb)
        return WatchList()
    if form == "remove":
        if len(args) != 2 or not (m := _WATCH_ID.fullmatch(args[1].strip())):
            raise UsageError("name the watch to remove by its id, as `/ioc watch list` shows it: "
                             "/ioc watch remove W7", verb)
        return WatchRemove(int(m.group(1)))
    if form != "add":
        raise UsageError("say what to do: watch add TARGET, watch list or watch remove W7", verb)
    opts = _Options(args[1:], {"org", "digest", "self"}, verb)
    if not opts.rest:
        raise UsageError(f"watch add needs a target: {HOW}", verb)
    org = opts.get("org")
    if org is not None:
        org = _text("org", org.strip(), verb, limits.ORG_NAME_MAX, multiline=False)
        if not org:
            raise UsageError('org: names an organization, e.g. org:"Sentinel Security"', verb)
    try:
        target = parse_target(opts.rest[0], org)
    except TargetError as e:
        raise UsageError(str(e), verb) from None
    if target.kind in (WatchKind.TAG, WatchKind.MALWARE) and not _TAG.fullmatch(target.value):
        raise UsageError(f"{target.kind}: takes one word of letters, digits and . _ : / + - (at most "
                         f"{limits.TAG_MAX_LEN}), not '{_shown(target.value)}'", verb)
    rest = opts.rest[1:]
    channel = bool(rest) and rest[0].lower() == "channel"
    digest = opts.get("digest")
    if digest is not None and digest.lower() not in {"daily", "off"}:
        raise UsageError(f"digest: takes daily (one message a day) or off, not '{_shown(digest)}'", verb)
    note = _text("note", " ".join(rest[1:] if channel else rest), verb, limits.NOTE_MAX)
    return WatchAdd(target, note, channel=channel, digest=(digest or "").lower() == "daily",
                    include_own=_on_off("self", opts.get("self"), verb) if opts.get("self") else False)


def _no_args(cls, verb: str):
    def parse_it(args: list[str]):
        if args:
            raise UsageError(f"{verb} takes no arguments", verb)
        return cls()
    return parse_it


def _stats(args: list[str]) -> Stats:
    if not args:
        return Stats()
    if len(args) == 1 and args[0].lower() == "orgs":
        return Stats(orgs=True)
    raise UsageError(f"stats takes nothing or `orgs`, not '{_shown(' '.join(args))}'", "stats")


def _why(args: list[str]) -> Why:
    if len(args) != 1:
        raise UsageError("say which one indicator, e.g. /ioc why #42", "why")
    return Why(parse_ref(args[0], "why"))


def _help(args: list[str]) -> Help:
    return Help(args[0].lower()[:40] if args else None)


def _edit(args: list[str]) -> Edit:
    verb = "edit"
    args, refs = _refs_apart(args)
    opts = _Options(args, {"conf", "confidence", "tags", "tag", "valid", "tlp", "note", "threat", "malware"}, verb)
    if not opts.rest:
        raise UsageError("say which indicator, e.g. #42", verb)
    ref = parse_ref(opts.rest[0], verb)
    if opts.get("conf") and opts.get("confidence"):
        raise UsageError("conf: is given twice; give it once", verb)
    confidence = opts.get("conf") or opts.get("confidence")
    if opts.get("tags") is not None and opts.get("tag") is not None:
        raise UsageError("tags: is given twice; give it once", verb)
    tags_raw = opts.get("tags") if opts.get("tags") is not None else opts.get("tag")
    tags: tuple[str, ...] | None = None
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    if tags_raw is not None:
        words = _split_list(tags_raw)
        if not words:
            raise UsageError("tags: needs tags: tags:+add,-remove to change them, tags:a,b to replace them", verb)
        signed = [w for w in words if w[:1] in "+-"]
        if signed and len(signed) != len(words):
            raise UsageError(f"tags: either changes the tags (every one with + or -: tags:+add,-remove) or "
                             f"replaces them (none with: tags:a,b), not '{_shown(tags_raw)}'", verb)
        if signed:
            added = _valid_tags(tuple(dict.fromkeys(w[1:] for w in words if w[0] == "+")), verb)
            removed = _valid_tags(tuple(dict.fromkeys(w[1:] for w in words if w[0] == "-")), verb)
            if both := set(added) & set(removed):
                raise UsageError(f"tag '{sorted(both)[0]}' is both added and removed; give it once", verb)
        else:
            tags = _valid_tags(words, verb)
    note_text = " ".join(filter(None, [opts.get("note") or "", " ".join(opts.rest[1:])])).strip()
    edit = Edit(
        ref=ref,
        confidence=_int_option("conf", confidence, verb, 0, 100) if confidence else None,
        tags=tags, tags_add=added, tags_remove=removed,
        valid_for=parse_duration(opts.get("valid"), verb, "valid") if opts.get("valid") else None,
        tlp=_tlp_option(opts.get("tlp"), verb) if opts.get("tlp") else None,
        note=_text("note", note_text, verb, limits.NOTE_MAX) if note_text else None,
        **_edit_context(opts, refs, verb),
    )
    if edit == Edit(ref):
        raise UsageError("say what to change: conf:, tags:, valid:, tlp:, threat:, malware:, ref: or a note", verb)
    return edit


def _edit_context(opts: _Options, refs: list[str], verb: str) -> dict[str, object]:
    """threat:, malware: and ref: of an edit: each replaces what the item has, `none` removes it."""
    found: dict[str, object] = {}
    with _context_error(verb):
        if (threat := opts.get("threat")) is not None:
            found["threat_type"] = "" if threat.lower() == "none" else context.threat_type(threat)
        if (malware := opts.get("malware")) is not None:
            found["malware"] = "" if malware.lower() == "none" else context.malware_name(malware)
        if refs:
            found["references"] = () if [r.lower() for r in refs] == ["none"] else context.references(refs)
            if refs != ["none"] and not found["references"]:
                raise UsageError("ref: needs a URL (or ref:none to remove them)", verb)
    return found


def _comment(args: list[str]) -> Comment:
    verb = "comment"
    if not args:
        raise UsageError("say which indicator and what to say, e.g. /ioc comment #42 seen in our mail gateway", verb)
    ref = parse_ref(args[0], verb)
    text = " ".join(args[1:]).strip()
    if not text:
        raise UsageError(f"say what to comment on {ref}, after it", verb)
    return Comment(ref, _text("comment", text, verb, limits.NOTE_MAX))


CASE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # fullmatch


def _case_name(raw: str, verb: str) -> str:
    if not CASE_NAME.fullmatch(raw):
        raise UsageError(f"'{_shown(raw)}' is not a case name; use letters, digits, . _ and - (up to 64), e.g. "
                         "operation-nightfall", verb)
    return raw


def _case(args: list[str]) -> Command:
    verb = "case"
    form = args[0].lower() if args else ""
    rest = args[1:]
    if form == "list":
        if rest:
            raise UsageError(f"unexpected '{_shown(rest[0])}'", verb)
        return CaseList()
    if form not in {"new", "add", "remove", "show"}:
        raise UsageError("say new, add, remove, show or list" + (f", not '{_shown(args[0])}'" if args else ""), verb)
    if not rest:
        raise UsageError(f"case {form} needs the case's name", verb)
    name = _case_name(rest[0], verb)
    if form == "new":
        opts = _Options(rest[1:], {"tlp"}, verb)
        return CaseNew(name, _tlp_option(opts.get("tlp"), verb) if opts.get("tlp") else None,
                       _text("description", " ".join(opts.rest).strip(), verb, limits.NOTE_MAX))
    if form == "show":
        if len(rest) > 1:
            raise UsageError(f"unexpected '{_shown(rest[1])}'", verb)
        return CaseShow(name)
    if len(rest) < 2:
        raise UsageError(f"case {form} needs the case's name and an indicator, e.g. case {form} {name} #42", verb)
    refs = tuple(dict.fromkeys(parse_ref(t, verb) for t in rest[1:]))
    if form == "remove":
        if len(refs) != 1:
            raise UsageError("remove one indicator at a time: case remove NAME #ID", verb)
        return CaseRemove(name, refs[0])
    return CaseAdd(name, refs)


def _reopen(args: list[str]) -> Reopen:
    if not args:
        raise UsageError("say which indicator, e.g. #42, and why", "reopen")
    ref = parse_ref(args[0], "reopen")
    reason = " ".join(args[1:]).strip()
    if not reason:
        raise UsageError("reopening needs a reason, so the submitter and the moderators learn why", "reopen")
    return Reopen(ref, _text("reason", reason, "reopen", limits.REASON_MAX))


_PARSERS = {
    "export": lambda args: _export(args),
    "import": lambda args: _import(args),
    "submit": _submit,
    "lookup": _lookup,
    "vote": _vote,
    "sighting": _sighting,
    "search": _search,
    "queue": _queue,
    "approve": _approve,
    "reject": _reject,
    "revoke": _revoke,
    "edit": _edit,
    "reopen": _reopen,
    "comment": lambda args: _comment(args),
    "case": lambda args: _case(args),
    "join": _join,
    "whoami": _no_args(WhoAmI, "whoami"),
    "link": _link,
    "stats": lambda args: _stats(args),
    "why": lambda args: _why(args),
    "watch": _watch,
    "help": _help,
    "admin": _admin,
}


def _export(args: list[str]) -> Export:
    verb = "export"
    opts = _Options(args, {"format", "status", "tlp", "type", "tag", "tags", "since", "min_score"}, verb)
    if opts.rest:
        raise UsageError(f"unexpected '{opts.rest[0]}'", verb)
    fmt = (opts.get("format") or "stix").lower().replace("text", "txt").replace("json", "stix")
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"format: takes stix, csv or txt, not '{opts.get('format')}'", verb)
    statuses = tuple(_enum_option(Status, "status", raw, verb, _STATUS_ALIASES)
                     for raw in _split_list(opts.get("status") or ""))
    return Export(
        format=fmt,
        statuses=statuses or (Status.APPROVED,),
        max_tlp=_tlp_option(opts.get("tlp"), verb) if opts.get("tlp") else None,
        types=tuple(_enum_option(IOCType, "type", raw, verb, _TYPE_ALIASES)
                    for raw in _split_list(opts.get("type") or "")),
        tags=_split_list(",".join(v for v in (opts.get("tag"), opts.get("tags")) if v)),
        since=parse_duration(opts.get("since"), verb, "since") if opts.get("since") else None,
        min_score=_min_score(opts, verb),
    )


def _import(args: list[str]) -> Command:
    raise UsageError("attach the file to your message (or share it with the bot): a STIX 2.1 bundle (.json), "
                     "a CSV or a text file", "import")


