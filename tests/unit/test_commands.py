"""The one command grammar: every verb's good forms and the errors that say how to write it right."""

from datetime import timedelta

import pytest

from bot import commands as c
from bot.commands import IdRef, StixRef, UsageError, ValueRef, parse
from bot.domain import ChannelPurpose, Role, Status, Verdict
from bot.ioc import IOCType, Observable
from bot.tlp import TLP


def test_submit_many_defanged_values_with_options_and_note():
    cmd = parse("submit hxxp://evil-updates[.]example/payload.bin 203.0.113[.]7 tlp:green conf:80 "
                "tags:Emotet,c2 seen in a phishing wave")
    assert cmd == c.Submit(
        values=(Observable(IOCType.URL, "http://evil-updates.example/payload.bin"),
                Observable(IOCType.IPV4, "203.0.113.7")),
        tlp=TLP.GREEN, confidence=80, tags=("emotet", "c2"), note="seen in a phishing wave")


def test_submit_flags_and_validity():
    cmd = parse('submit 198.51.100.9, anon valid:30d tlp:amber+strict note:"from our sandbox"')
    assert cmd.values == (Observable(IOCType.IPV4, "198.51.100.9"),)
    assert cmd.anonymous and cmd.tlp is TLP.AMBER_STRICT and cmd.valid_for == timedelta(days=30)
    assert cmd.note == "from our sandbox"


def test_submit_removes_duplicate_values():
    cmd = parse("submit evil[.]example evil.example EVIL.example")
    assert cmd.values == (Observable(IOCType.DOMAIN, "evil.example"),)


@pytest.mark.parametrize("text, problem", [
    ("submit", "at least one indicator"),
    ("submit tlp:green", "at least one indicator"),
    ("submit 1.2.3.4 tlp:purple", "not a TLP label"),
    ("submit 1.2.3.4 conf:101", "conf: takes a whole number from 0 to 100"),
    ("submit 1.2.3.4 conf:high", "conf: takes a whole number"),
    ("submit 1.2.3.999", "looks like an indicator but is not a valid one"),
    ("submit hxxp://[.]", "looks like an indicator"),
    ("submit 1.2.3.4 valid:forever", "not a duration"),
    ("submit 1.2.3.4 tags:bad!tag", "tag 'bad!tag' is not valid"),
    ("submit 1.2.3.4 tlp:red tlp:green", "given twice"),
])
def test_submit_errors_say_what_and_show_the_form(text, problem):
    with pytest.raises(UsageError) as e:
        parse(text)
    assert problem in e.value.problem
    assert e.value.usage.startswith("/ioc submit")


def test_bare_values_and_ids_are_lookups():
    assert parse("203.0.113[.]7") == c.Lookup((ValueRef(Observable(IOCType.IPV4, "203.0.113.7")),))
    assert parse("#42") == c.Lookup((IdRef(42),))
    cmd = parse("lookup #1 evil[.]example not-a-value 44d88612fea8a8f36de82e1278abb02f")
    assert cmd.refs == (IdRef(1), ValueRef(Observable(IOCType.DOMAIN, "evil.example")),
                        ValueRef(Observable(IOCType.MD5, "44d88612fea8a8f36de82e1278abb02f")))
    assert cmd.invalid == ("not-a-value",)


def test_lookup_by_stix_id():
    stix = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
    assert parse(f"lookup {stix}") == c.Lookup((StixRef(stix),))


def test_lookup_of_nothing_valid_is_an_error():
    with pytest.raises(UsageError, match="none of these is an indicator"):
        parse("lookup hello world")


def test_unknown_verb_lists_the_verbs():
    with pytest.raises(UsageError) as e:
        parse("frobnicate 1")
    assert "submit" in e.value.problem and "bare value" in e.value.problem


@pytest.mark.parametrize("text, verdict", [
    ("vote #3 confirm", Verdict.CONFIRM), ("vote 3 fp", Verdict.FALSE_POSITIVE),
    ("vote #3 false-positive", Verdict.FALSE_POSITIVE), ("vote #3 withdraw", None),
])
def test_vote_verdicts(text, verdict):
    cmd = parse(text)
    assert cmd == c.Vote(IdRef(3), verdict)


def test_vote_reason_and_errors():
    assert parse("vote #3 fp it is a CDN").reason == "it is a CDN"
    with pytest.raises(UsageError, match="not a verdict"):
        parse("vote #3 maybe")
    with pytest.raises(UsageError, match="needs an indicator and a verdict"):
        parse("vote #3")


def test_sighting():
    assert parse("sighting #5 count:3 in our mail gateway") == c.Sighting(IdRef(5), 3, "in our mail gateway")
    with pytest.raises(UsageError, match="count: takes"):
        parse("sighting #5 count:0")


def test_search_filters():
    cmd = parse("search type:url,domain tag:emotet status:approved org:Northbank since:7d tlp:amber page:2 evil")
    assert cmd == c.Search(types=(IOCType.URL, IOCType.DOMAIN), tags=("emotet",), statuses=(Status.APPROVED,),
                           org="Northbank", since=timedelta(days=7), tlp=TLP.AMBER, text="evil", page=2)
    assert parse("search type:ip").types == (IOCType.IPV4,)
    with pytest.raises(UsageError, match="type: takes one of"):
        parse("search type:file")
    with pytest.raises(UsageError, match="status: takes one of"):
        parse("search status:done")


def test_moderation_verbs():
    assert parse("approve #1 #2 good catch") == c.Approve((IdRef(1), IdRef(2)), "good catch")
    assert parse("reject #4 it is a CDN") == c.Reject((IdRef(4),), "it is a CDN")
    assert parse("revoke 4 sinkholed now") == c.Revoke((IdRef(4),), "sinkholed now")
    with pytest.raises(UsageError, match="needs a reason"):
        parse("reject #4")
    with pytest.raises(UsageError, match="needs a reason"):
        parse("revoke #4")
    assert parse("queue page:3") == c.Queue(3)


def test_membership_and_info_verbs():
    assert parse("join AbC-123") == c.Join("AbC-123")
    assert parse("whoami") == c.WhoAmI()
    assert parse("stats") == c.Stats()
    assert parse("help vote") == c.Help("vote")
    assert parse("") == c.Help()
    with pytest.raises(UsageError, match="takes no arguments"):
        parse("whoami please")
    with pytest.raises(UsageError, match="exactly one invite code"):
        parse("join")


def test_admin_forms():
    assert parse('admin org add "Bank of Example" sector:finance trust:80') == c.OrgAdd("Bank of Example",
                                                                                       "finance", 80)
    assert parse("admin org add Bank of Example") == c.OrgAdd("Bank of Example")
    assert parse("admin org list") == c.OrgList()
    assert parse("admin member list Northbank") == c.MemberList("Northbank")
    assert parse("admin member role m7 moderator") == c.MemberRole(c.MemberRef(member_id=7), Role.MODERATOR)
    assert parse("admin member role <@U0123|alice> admin").member == c.MemberRef(user_id="U0123")
    assert parse("admin invite create Northbank role:moderator uses:5 expires:2d") == c.InviteCreate(
        "Northbank", Role.MODERATOR, 5, timedelta(days=2))
    assert parse("admin channel set ceiling:amber purpose:feed passive:on") == c.ChannelSet(
        TLP.AMBER, ChannelPurpose.FEED, True, None)
    assert parse("admin channel show") == c.ChannelShow()


@pytest.mark.parametrize("text, problem", [
    ("admin channel set ceiling:red", "only ever shown in private replies"),
    ("admin channel set", "at least one of"),
    ("admin member role alice admin", "not a member"),
    ("admin member role m7 king", "role: takes one of"),
    ("admin invite create", "for which organization"),
    ("admin launch missiles", "not an admin command"),
])
def test_admin_errors(text, problem):
    with pytest.raises(UsageError) as e:
        parse(text)
    assert problem in e.value.problem


def test_smart_quotes_from_slack_are_plain_quotes():
    assert parse("admin org add “Bank of Example”") == c.OrgAdd("Bank of Example")


def test_every_verb_has_help_and_usage():
    for verb in c.VERBS:
        assert c.usage_of(verb).startswith("/ioc")


def test_submit_from_a_form_extracts_values_from_pasted_text():
    cmd = c.submit_from_form(values="C2: hxxp://evil[.]example/gate.php\n203.0.113[.]5, see report", tlp="amber",
                             confidence="70", tags="c2, emotet", note="from the sandbox", anonymous=True)
    assert cmd.values == (Observable(IOCType.URL, "http://evil.example/gate.php"),
                          Observable(IOCType.IPV4, "203.0.113.5"))
    assert (cmd.tlp, cmd.confidence, cmd.tags, cmd.note, cmd.anonymous) == (TLP.AMBER, 70, ("c2", "emotet"),
                                                                           "from the sandbox", True)


def test_a_form_with_problems_names_each_field():
    with pytest.raises(c.FormError) as e:
        c.submit_from_form(values="nothing here", tlp="purple", confidence="200", tags="ok, bad!", valid="soon")
    assert set(e.value.errors) == {"values", "tlp", "confidence", "tags", "valid"}
    assert "No indicator found" in e.value.errors["values"]
    assert e.value.errors["confidence"].startswith("Conf: takes a whole number from 0 to 100")


# ---------------------------------------------------------------- robustness: the store's limits (issue 10)

@pytest.mark.parametrize("text, problem", [
    ("admin retry ²", "id: takes a whole number from 1 to 9,223,372,036,854,775,807, not '²'"),
    ("admin retry ٣", "id: takes a whole number"),
    ("admin retry 12345678901234567890", "id: takes a whole number from 1 to 9,223,372,036,854,775,807"),
    ("admin retry 9223372036854775808", "id: takes a whole number"),
    ("submit 1.2.3.4 valid:999999w", "valid: takes a duration from 1m to 3650d (ten years), not '999999w'"),
    ("submit 1.2.3.4 valid:3651d", "valid: takes a duration from 1m to 3650d"),
    ("submit 1.2.3.4 valid:0d", "valid: takes a duration from 1m"),
    ("submit 1.2.3.4 valid:٣d", "not a duration"),
    ("search since:999999w", "since: takes a duration from 1m to 3650d"),
    ("admin invite create Northbank expires:999999w", "expires: takes a duration from 1m to 3650d"),
    ("queue page:٣", "page: takes a whole number from 1 to 10,000, not '٣'"),
    ("sighting #1 count:²", "count: takes a whole number"),
    ("sighting #1 count:1_000", "count: takes a whole number"),
    ('submit 1.2.3.4 conf:" 5"', "conf: takes a whole number"),
    ("admin org add Bank trust:١٠", "trust: takes a whole number"),
    ("admin invite create Northbank uses:1001", "uses: takes a whole number from 1 to 1,000"),
    ("admin apikey revoke 99999999999999999999", "id: takes a whole number"),
])
def test_numbers_are_ascii_and_bounded_and_durations_at_most_ten_years(text, problem):
    with pytest.raises(UsageError) as e:
        parse(text)
    assert problem in e.value.problem
    assert e.value.usage.startswith("/ioc")


def test_ids_are_ascii_digits_that_fit_a_bigint():
    assert parse("#999999999999999999") == c.Lookup((IdRef(999_999_999_999_999_999),))
    assert parse("admin retry 9223372036854775807") == c.RetryDelivery(9223372036854775807)
    assert parse("admin retry #12") == c.RetryDelivery(12)
    for text in ("#٣", "#²", "lookup #1234567890123456789"):
        with pytest.raises(UsageError):
            parse(text)
    with pytest.raises(UsageError, match="neither an indicator id"):
        parse("vote #٣ confirm")
    with pytest.raises(UsageError, match="not a member"):
        parse("admin member role m٣ admin")


@pytest.mark.parametrize("text, where, what", [
    ("submit 1.2.3.4 seen in \ud800 our gateway", "the word '\\ud800'", "a lone surrogate (U+D800"),
    ("submit 1.2.3.4 note:a\x00b", "the option note:", "a NUL character (U+0000)"),
    ("submit http://evil.example/\x00x", "the word", "a NUL character"),
    ("admin org add Evil\x00Corp", "the word 'Evil\\u0000Corp'", "a NUL character"),
    ("reject #1 because\x1b[2J", "the word", "a control character (U+001B)"),
    ("search text\x00", "the word", "NUL"),
    ("vote #1 fp \udfff", "the word", "lone surrogate"),
])
def test_nul_controls_and_lone_surrogates_are_refused_naming_where(text, where, what):
    with pytest.raises(UsageError) as e:
        parse(text)
    assert e.value.problem.startswith(where), e.value.problem
    assert what in e.value.problem and "remove it" in e.value.problem
    assert "\x00" not in e.value.problem and "\ud800" not in e.value.problem  # shown, never echoed raw


def test_line_breaks_and_tabs_in_a_note_are_fine():
    assert parse("submit 1.2.3.4 seen in\nour\tgateway").note == "seen in our gateway"
    assert parse('submit 1.2.3.4 note:"line one\nline two"').note == "line one\nline two"


def test_a_url_over_2048_characters_is_refused_with_the_limit():
    url = "http://evil.example/" + "a" * 2029  # 2,049 characters
    with pytest.raises(UsageError) as e:
        parse(f"submit {url} tlp:green")
    assert "a url has at most 2,048 characters (this one has 2,049)" in e.value.problem
    with pytest.raises(UsageError, match="at most 2,048 characters"):
        parse(f"vote {url} confirm")
    exactly = "http://evil.example/" + "a" * 2028
    assert parse(f"submit {exactly}").values == (Observable(IOCType.URL, exactly),)


def test_a_percent_encoded_nul_never_becomes_part_of_a_value():
    with pytest.raises(UsageError, match="cannot be stored: the url contains a NUL"):
        parse("submit http%3A%2F%2Fevil%2Eexample%2F%00")


@pytest.mark.parametrize("text, problem", [
    ("submit 1.2.3.4 " + "x" * 2001, "note: at most 2,000 characters (this one has 2,001)"),
    ("vote #1 fp " + "x" * 501, "reason: at most 500 characters"),
    ("reject #1 " + "x" * 501, "reason: at most 500 characters"),
    ("revoke #1 " + "x" * 501, "reason: at most 500 characters"),
    ("approve #1 " + "x" * 501, "note: at most 500 characters"),
    ("sighting #1 " + "x" * 501, "note: at most 500 characters"),
    ("admin org add " + "x" * 101, "the organization name: at most 100 characters"),
    ("admin org add Bank sector:" + "x" * 51, "sector: at most 50 characters"),
    ('admin org add "Bank\nof Example"', "a line break"),
    ("admin apikey create Northbank " + "k" * 101, "the key name: at most 100 characters"),
    ("submit 1.2.3.4 tags:" + ",".join(f"t{i}" for i in range(21)), "at most 20 tags, not 21"),
    ("submit 1.2.3.4 tags:" + "t" * 65, "up to 64"),
    ("search tag:" + "t" * 65, "tag: at most 64 characters"),
    ("search " + "x" * 201, "search text: at most 200 characters"),
    ("join " + "c" * 101, "code: at most 100 characters"),
])
def test_texts_over_their_limit_are_refused_not_cut(text, problem):
    with pytest.raises(UsageError) as e:
        parse(text)
    assert problem in e.value.problem, e.value.problem


def test_a_form_names_the_field_that_breaks_a_limit():
    with pytest.raises(c.FormError) as e:
        c.submit_from_form(values="C2 http://evil.example/" + "a" * 3000 + " and 203.0.113.5", note="a\x00b",
                           valid="999999w")
    assert set(e.value.errors) == {"values", "note", "valid"}
    assert "at most 2,048 characters" in e.value.errors["values"]
    assert "NUL" in e.value.errors["note"]
    assert "3650d" in e.value.errors["valid"]
    with pytest.raises(c.FormError) as e:
        c.submit_from_form(values="203.0.113.5", note="x" * 2001)
    assert "at most 2,000" in e.value.errors["note"]


def test_link_gives_a_code_or_uses_one():
    assert parse("link") == c.Link() == parse("link start") == parse("LINK Start")
    assert parse("link abcd-efgh23") == c.Link("ABCD-EFGH23")  # typed by hand on the other platform: any case
    with pytest.raises(UsageError) as e:
        parse("link ONE TWO")
    assert "give one link code" in e.value.problem and e.value.usage.startswith("/ioc link [start]")
    with pytest.raises(UsageError) as e:
        parse("link " + "A" * 101)
    assert e.value.verb == "link"
