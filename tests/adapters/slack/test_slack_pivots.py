"""Pivots (issue 12) through Slack: a signed `/ioc lookup` answers the related section in Block Kit."""

from __future__ import annotations

from tests.adapters.slack.fake_slack import all_text
from tests.adapters.slack.slack_world import SlackWorld
from tests.adapters.slack.test_slack_commands import submit


async def test_a_lookup_shows_the_network_an_unknown_address_is_inside(slack: SlackWorld) -> None:
    await submit(slack, "alice", "198.51.100[.]0/24 tlp:green tags:scanner")
    await slack.command("bob", "lookup 198.51.100.99", key="look")
    (reply,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "look")
    text = all_text(reply.body)
    assert "Not known to the coalition" in text and "`198.51.100.99`" in text
    assert "Related to `198.51.100.99`:" in text
    assert "`198.51.100.0/24` (#1, pending, TLP:GREEN, confirmed by 0 orgs)" in text
    assert reply["response_type"] == "ephemeral"
