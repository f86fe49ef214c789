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
