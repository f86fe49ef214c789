"""Issue 13's score through Slack: signed slash commands; the card's Status field carries the score, `/ioc why` and
`/ioc stats orgs` answer privately (ephemeral)."""

from __future__ import annotations

from tests.adapters.slack.fake_slack import all_text
from tests.adapters.slack.slack_world import SlackWorld
from tests.adapters.slack.test_slack_commands import submit


async def test_cards_show_the_score_and_why_explains_it_privately(slack: SlackWorld) -> None:
    await submit(slack, "alice", "203.0.113[.]61 tlp:green conf:80")
    await slack.command("bob", "lookup #1", key="look")
    (reply,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "look")
    fields = [f["text"] for b in reply["blocks"] if b.get("fields") for f in b["fields"]]
    assert "*Status*\n:hourglass_flowing_sand: pending · score 40 →" in fields, fields
    await slack.command("bob", "why #1", key="why")
    (reply,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "why")
    assert reply["response_type"] == "ephemeral"
    text = all_text(reply.body)
    assert "score 40 →" in text and "base 40 from confidence 80" in text
    await slack.command("bob", "why #9", key="unknown")
    (reply,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "unknown")
    assert "#9 is not an indicator you can see" in all_text(reply.body)


async def test_stats_orgs_answers_the_standing_privately(slack: SlackWorld) -> None:
    await submit(slack, "alice", "203.0.113[.]62 tlp:green")
    await slack.command("bob", "stats orgs", key="orgs")
    (reply,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "orgs")
    assert reply["response_type"] == "ephemeral"
    text = all_text(reply.body)
    assert "Standing of each organization (over what you may see)" in text
    assert "1 submitted · 0 approved · 0 confirmed by others · 0% false positive" in text
