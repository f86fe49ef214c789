"""The one grammar for button ids."""

import pytest

from bot import actions, commands
from bot.commands import IdRef, UsageError
from bot.domain import Verdict


@pytest.mark.parametrize("action_id, command", [
    ("ioc:vote:42:confirm", commands.Vote(IdRef(42), Verdict.CONFIRM)),
    ("ioc:vote:42:false_positive", commands.Vote(IdRef(42), Verdict.FALSE_POSITIVE)),
    ("ioc:vote:42:withdraw", commands.Vote(IdRef(42), None)),
    ("ioc:approve:7", commands.Approve((IdRef(7),))),
    ("ioc:queue:2", commands.Queue(2)),
    ("ioc:lookup:9", commands.Lookup((IdRef(9),))),
])
def test_button_ids_decode_to_commands(action_id, command):
    action = actions.parse(action_id)
    assert action.id == action_id
    assert actions.to_command(action) == command


def test_reject_and_revoke_need_a_reason():
    action = actions.parse("ioc:reject:5")
    assert action.needs_reason
    assert actions.to_command(action, "benign CDN") == commands.Reject((IdRef(5),), "benign CDN")
    with pytest.raises(UsageError, match="needs a reason"):
        actions.to_command(action, "  ")
    assert actions.to_command(actions.parse("ioc:revoke:5"), "sinkholed") == commands.Revoke((IdRef(5),),
                                                                                         "sinkholed")


@pytest.mark.parametrize("bad", ["", "ioc:vote:42", "ioc:vote:42:maybe", "ioc:delete:1", "vote:1:confirm",
                                 "ioc:vote:-1:confirm", "ioc:approve:1:" + "x" * 30])
def test_foreign_or_forged_ids_are_refused(bad):
    with pytest.raises(UsageError):
        actions.parse(bad)


def test_ids_fit_discord_custom_id_limit():
    assert len(actions.vote(10**17, Verdict.FALSE_POSITIVE).id) <= 100


@pytest.mark.parametrize("bad", ["ioc:vote:٣:confirm", "ioc:approve:²", "ioc:lookup:1234567890123456789",
                                 "ioc:vote:42:confirm\n", "ioc:approve:7\n", "ioc:queue:0", "ioc:queue:10001",
                                 "ioc:queue:999999999999999999", "ioc:lookup:\x00"])
def test_ids_are_ascii_bounded_and_whole(bad):
    with pytest.raises(UsageError) as e:
        actions.parse(bad)
    assert "\x00" not in e.value.problem and "\n" not in e.value.problem


def test_a_biggest_id_still_decodes():
    assert actions.to_command(actions.parse("ioc:lookup:999999999999999999")) == commands.Lookup(
        (IdRef(999_999_999_999_999_999),))
    assert actions.to_command(actions.parse("ioc:queue:10000")) == commands.Queue(10_000)


@pytest.mark.parametrize("reason, problem", [
    ("x" * 501, "reason: at most 500 characters (this one has 501)"),
    ("benign\x00CDN", "NUL"),
    ("benign \ud800", "lone surrogate"),
])
def test_a_modal_reason_has_the_same_limits_as_a_typed_one(reason, problem):
    for action_id in ("ioc:reject:5", "ioc:revoke:5", "ioc:approve:5", "ioc:vote:5:confirm"):
        with pytest.raises(UsageError) as e:
            actions.to_command(actions.parse(action_id), reason)
        assert problem in e.value.problem
