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
