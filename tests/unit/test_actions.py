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
