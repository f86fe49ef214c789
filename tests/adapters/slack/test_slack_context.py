"""Issue 13's context through Slack: the submission modal's threat type, malware family and references, their
errors shown beside the fields, and the card's context and dates (references defanged, in code)."""

from __future__ import annotations

import json

from bot.ioc import IOCType
from tests.adapters.slack.fake_slack import all_text
from tests.adapters.slack.slack_world import SlackWorld


async def _modal(slack: SlackWorld) -> dict:
    await slack.shortcut("bob", "share_indicator")
    (opened,) = await slack.mock.wait_for("views.open")
    return opened["view"]


async def test_the_submission_modal_takes_threat_malware_and_references(slack: SlackWorld) -> None:
    view = await _modal(slack)
    blocks = {b["block_id"]: b for b in view["blocks"] if "block_id" in b}
    assert {"threat", "malware", "references"} <= set(blocks)
    threats = [o["value"] for o in blocks["threat"]["element"]["options"]]
    assert {"botnet_cc", "payload_delivery", "phishing", "scanner", "ransomware_leak"} <= set(threats)
    status, body, _ = await slack.submit_view("bob", view, {
        "values": {"values": {"type": "plain_text_input", "value": "203.0.113[.]7"}},
        "tlp": {"tlp": {"type": "static_select", "selected_option": {"value": "GREEN"}}},
        "threat": {"threat": {"type": "static_select", "selected_option": {"value": "botnet_cc"}}},
        "malware": {"malware": {"type": "plain_text_input", "value": "Cobalt Strike"}},
        "references": {"references": {"type": "plain_text_input",
                                      "value": "https://reports.example/cs\nhttps://blog.example/x"}},
    })
    answer = json.loads(body)
    assert status == 200 and answer["response_action"] == "update", answer
    shown = all_text(answer["view"])
    assert "threat botnet_cc · malware cobalt_strike" in shown, shown
    assert "`hxxps://reports[.]example/cs`" in shown and "https://reports.example" not in shown  # defanged, code
    assert "submitted " in shown and "first seen " in shown and "valid until " in shown  # the dates line
    async with slack.store.unit_of_work() as uow:
        (ind,) = await uow.indicators.by_values([(IOCType.IPV4, "203.0.113.7")])
    assert (ind.threat_type, ind.malware, ind.references) == (
        "botnet_cc", "cobalt_strike", ("https://reports.example/cs", "https://blog.example/x"))


async def test_bad_context_in_the_modal_is_shown_beside_its_field_and_stores_nothing(slack: SlackWorld) -> None:
    view = await _modal(slack)
    status, body, _ = await slack.submit_view("bob", view, {
        "values": {"values": {"type": "plain_text_input", "value": "203.0.113.8"}},
        "threat": {"threat": {"type": "static_select", "selected_option": {"value": "evil"}}},
        "malware": {"malware": {"type": "plain_text_input", "value": "emo/tet"}},
        "references": {"references": {"type": "plain_text_input", "value": "ftp://files.example/x"}},
    })
    answer = json.loads(body)
    assert status == 200 and answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"threat", "malware", "references"}
    assert "Threat: takes one of botnet_cc" in answer["errors"]["threat"]
    assert "is not a family name" in answer["errors"]["malware"]
    assert "is not a reference URL" in answer["errors"]["references"]
    async with slack.store.unit_of_work() as uow:
        assert not await uow.indicators.by_values([(IOCType.IPV4, "203.0.113.8")])


async def test_comments_and_cases_through_slash_commands(slack: SlackWorld) -> None:
    await slack.command("alice", "submit 203.0.113[.]9 tlp:green")
    await slack.mock.wait_for("chat.postMessage")
    await slack.settle()
    await slack.command("bob", "comment #1 seen in our gateway <!channel> *bold*", key="com")
    (reply,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "com")
    assert reply["response_type"] == "ephemeral" and "Comment added to #1 (1 comment)" in all_text(reply.body)
    await slack.command("carol", "lookup #1", key="look")
    (reply,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "look")
    text = all_text(reply.body)
    assert "comments (1):" in text and "Sentinel Security: seen in our gateway" in text
    assert "<!channel>" not in text  # escaped: never a mention
    await slack.command("alice", "case new op-nightfall tlp:green Phishing wave", key="case")
    (reply,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "case")
    assert reply["response_type"] == "ephemeral" and "Case op-nightfall opened" in all_text(reply.body)
