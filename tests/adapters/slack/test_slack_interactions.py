"""Buttons, modals, shortcuts and App Home through Slack, with live cards edited everywhere."""

from __future__ import annotations

import asyncio
import json

from bot.domain import Status
from bot.ioc import IOCType
from tests.adapters.slack.fake_slack import action_ids, all_text
from tests.adapters.slack.slack_world import SlackWorld


async def public_submission(slack: SlackWorld, text: str = "203.0.113[.]7 tlp:green tags:emotet") -> dict:
    """alice submits in #open-channel: her card there, and the moderation channel's card, both live."""
    await slack.command("alice", f"submit {text}", channel="COPEN")
    (card,) = await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "COPEN")
    await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "CMOD")
    await slack.settle()
    return {"COPEN": slack.mock.messages["COPEN"][0]["ts"], "CMOD": slack.mock.messages["CMOD"][0]["ts"],
            "card": card}


async def status_of(slack: SlackWorld, indicator_id: int) -> Status:
    async with slack.store.unit_of_work() as uow:
        found = await uow.indicators.get(indicator_id)
    assert found is not None
    return found.status


async def test_confirm_button_counts_the_vote_and_updates_every_posted_card(slack: SlackWorld) -> None:
    posted = await public_submission(slack)
    assert action_ids(slack.mock.messages["CMOD"][0]["blocks"]) == [
        "ioc:vote:1:confirm", "ioc:vote:1:false_positive", "ioc:approve:1", "ioc:reject:1"]

    status, body, seconds = await slack.click("bob", "ioc:vote:1:confirm", channel="COPEN", ts=posted["COPEN"],
                                              key="click")
    assert status == 200 and body == "" and seconds < 1.0
    (ack,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "click")
    assert ack["response_type"] == "ephemeral" and "Vote on #1 recorded" in all_text(ack.body)

    updates = await slack.mock.wait_for("chat.update", 2,
                                        where=lambda u: "1 confirmation from 1 org" in all_text(u.body))
    assert {(u["channel"], u["ts"]) for u in updates} == {("COPEN", posted["COPEN"]), ("CMOD", posted["CMOD"])}
    mod_update = next(u for u in updates if u["channel"] == "CMOD")
    assert "ioc:approve:1" in action_ids(mod_update["blocks"])  # the moderation card keeps its buttons
    copen_update = next(u for u in updates if u["channel"] == "COPEN")
    assert "ioc:approve:1" not in action_ids(copen_update["blocks"])
    async with slack.store.unit_of_work() as uow:
        tally = await uow.votes.tally(1)
    assert (tally.confirm, tally.confirm_orgs) == (1, 1)


async def test_reject_button_asks_a_reason_in_a_modal_then_rejects(slack: SlackWorld) -> None:
    posted = await public_submission(slack)
    await slack.click("mod", "ioc:reject:1", channel="CMOD", ts=posted["CMOD"], key="reject")
    (opened,) = await slack.mock.wait_for("views.open")
    view = opened["view"]
    assert view["callback_id"] == "ioc_reason" and view["title"]["text"] == "Reject #1"
    assert await status_of(slack, 1) is Status.PENDING

    status, body, _ = await slack.submit_view("mod", view, {"reason": {"reason": {"type": "plain_text_input",
                                                                                   "value": "  "}}})
    assert status == 200 and json.loads(body) == {
        "response_action": "errors", "errors": {"reason": "a rejection needs a reason, so the submitter learns why"}}
    assert await status_of(slack, 1) is Status.PENDING

    status, body, _ = await slack.submit_view("mod", view, {"reason": {"reason": {
        "type": "plain_text_input", "value": "sinkholed by the registrar"}}})
    assert status == 200 and body == ""  # the modal closes
    assert await status_of(slack, 1) is Status.REJECTED
    (said,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "reject")
    assert "Rejected:" in all_text(said.body)
    updates = await slack.mock.wait_for("chat.update", 2, where=lambda u: "rejected" in all_text(u.body))
    assert {u["channel"] for u in updates} == {"COPEN", "CMOD"}
    assert all("sinkholed by the registrar" in all_text(u.body) for u in updates)
    assert all(action_ids(u["blocks"]) == [] for u in updates)  # nothing left to press
    # alice, the submitter, is told in a direct message
    (dm,) = await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "DALICE")
    assert "was rejected: sinkholed by the registrar" in all_text(dm.body)


async def test_approve_in_the_moderation_channel_delivers_the_card_to_the_feed(slack: SlackWorld) -> None:
    posted = await public_submission(slack)
    await slack.click("mod", "ioc:approve:1", channel="CMOD", ts=posted["CMOD"], key="approve")
    (feed,) = await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "CFEED")
    text = all_text(feed.body)
    assert "Approved for the coalition" in text and "`203.0.113.7`" in text and "approved" in text
    assert action_ids(feed["blocks"]) == ["ioc:vote:1:confirm", "ioc:vote:1:false_positive"]
    assert feed["metadata"]["event_type"] == "coalition_indicator_card"
    (said,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "approve")
    assert "Approved:" in all_text(said.body) and said["response_type"] == "ephemeral"
    assert await status_of(slack, 1) is Status.APPROVED
    assert not slack.mock.posts("CGENERAL")  # not a feed channel


async def test_global_shortcut_opens_the_submission_modal_and_submits(slack: SlackWorld) -> None:
    status, body, _ = await slack.shortcut("bob", "share_indicator")
    assert status == 200 and body == ""
    (opened,) = await slack.mock.wait_for("views.open")
    view = opened["view"]
    assert view["callback_id"] == "ioc_submit"
    blocks = {b["block_id"]: b for b in view["blocks"] if "block_id" in b}
    assert set(blocks) >= {"values", "tlp", "confidence", "tags", "note", "anonymity"}
    assert blocks["tlp"]["element"]["initial_option"]["value"] == "AMBER"  # the policy's default

    status, body, _ = await slack.submit_view("bob", view, {
        "values": {"values": {"type": "plain_text_input", "value": "seen: hxxps://login-bank[.]example/verify"}},
        "tlp": {"tlp": {"type": "static_select", "selected_option": {"value": "GREEN"}}},
        "confidence": {"confidence": {"type": "number_input", "value": "80"}},
        "tags": {"tags": {"type": "plain_text_input", "value": "phishing"}},
        "note": {"note": {"type": "plain_text_input", "value": "SMS lure"}},
        "anonymity": {"anonymous": {"type": "checkboxes", "selected_options": [{"value": "anon"}]}},
    })
    answer = json.loads(body)
    assert status == 200 and answer["response_action"] == "update"
    assert "Submitted 1 indicator for moderation" in all_text(answer["view"])
    async with slack.store.unit_of_work() as uow:
        (ind,) = await uow.indicators.by_values([(IOCType.URL, "https://login-bank.example/verify")])
    assert (ind.tlp.value, ind.confidence, ind.tags, ind.note, ind.anonymous) == ("GREEN", 80, ("phishing",),
                                                                                  "SMS lure", True)
    (mod_card,) = await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "CMOD")
    assert "a coalition member" in all_text(mod_card.body) and "Sentinel" not in all_text(mod_card.body)


async def test_message_shortcut_prefills_what_the_ioc_engine_found(slack: SlackWorld) -> None:
    message = {"type": "message", "ts": "1700000000.000200", "user": "UCAROL",
               "text": "C2 at hxxp://evil[.]example/gate.php and 198.51.100[.]23, hash "
                       "44d88612fea8a8f36de82e1278abb02f <@UALICE>"}
    await slack.shortcut("carol", "submit_from_message", message=message, channel="CGENERAL")
    (opened,) = await slack.mock.wait_for("views.open")
    view = opened["view"]
    values = next(b for b in view["blocks"] if b.get("block_id") == "values")["element"]["initial_value"]
    assert values.splitlines() == ["http://evil.example/gate.php", "198.51.100.23",
                                   "44d88612fea8a8f36de82e1278abb02f"]
    assert "Found 3 indicators" in all_text(view)
    assert json.loads(view["private_metadata"]) == {"channel": "CGENERAL"}


async def test_modal_validation_errors_are_shown_in_the_modal(slack: SlackWorld) -> None:
    await slack.shortcut("bob", "share_indicator")
    view = (await slack.mock.wait_for("views.open"))[0]["view"]
    status, body, _ = await slack.submit_view("bob", view, {
        "values": {"values": {"type": "plain_text_input", "value": "nothing to see here"}},
        "tlp": {"tlp": {"type": "static_select", "selected_option": {"value": "PURPLE"}}},
        "tags": {"tags": {"type": "plain_text_input", "value": "ok, Not Valid!"}},
    })
    answer = json.loads(body)
    assert status == 200 and answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"values", "tlp", "tags"}
    assert "No indicator found" in answer["errors"]["values"]
    assert "not a TLP label" in answer["errors"]["tlp"]

    status, body, _ = await slack.submit_view("UNOBODY", view, {
        "values": {"values": {"type": "plain_text_input", "value": "203.0.113.5"}}})
    answer = json.loads(body)
    assert answer["response_action"] == "errors" and "not a member" in answer["errors"]["values"]
    async with slack.store.unit_of_work() as uow:
        assert not await uow.indicators.by_values([(IOCType.IPV4, "203.0.113.5")])


async def test_a_slow_store_still_acknowledges_the_modal_in_time(slack: SlackWorld) -> None:
    await slack.shortcut("bob", "share_indicator")
    view = (await slack.mock.wait_for("views.open"))[0]["view"]
    slack.service.bot.ack_budget = 0.3  # type: ignore[union-attr]
    dispatcher = slack.service.dispatcher
    original = dispatcher.handle

    async def slow(command, actor):
        await asyncio.sleep(1.0)
        return await original(command, actor)

    dispatcher.handle = slow  # type: ignore[method-assign]
    try:
        status, body, seconds = await slack.submit_view("bob", view, {
            "values": {"values": {"type": "plain_text_input", "value": "203.0.113.6"}}})
        assert status == 200 and body == "" and seconds < 0.9
        (dm,) = await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "DBOB")
        assert "Submitted 1 indicator for moderation" in all_text(dm.body)
    finally:
        dispatcher.handle = original  # type: ignore[method-assign]


async def test_app_home_shows_the_moderator_the_queue_with_buttons(slack: SlackWorld) -> None:
    await slack.command("alice", "submit 203.0.113[.]7 198.51.100[.]8 tlp:green", channel="DALICE", key="s")
    await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "s")
    await slack.event({"type": "app_home_opened", "user": "UMOD", "channel": "DMOD", "tab": "home"})
    (published,) = await slack.mock.wait_for("views.publish")
    assert published["user_id"] == "UMOD"
    view = published["view"]
    text = all_text(view)
    assert view["type"] == "home" and "*mod* · moderator of *Sentinel Security*" in text
    assert "*Moderation queue* (2 waiting)" in text
    assert action_ids(view["blocks"]) == ["ioc:approve:1", "ioc:reject:1", "ioc:approve:2", "ioc:reject:2"]

    # approving from the App Home refreshes it
    await slack.click("mod", "ioc:approve:1", home=True)
    (_, refreshed) = await slack.mock.wait_for("views.publish", 2)
    assert "*Moderation queue* (1 waiting)" in all_text(refreshed["view"])
    assert await status_of(slack, 1) is Status.APPROVED

    # a reject from the App Home asks its reason, then refreshes the App Home
    await slack.click("mod", "ioc:reject:2", home=True)
    (opened,) = await slack.mock.wait_for("views.open")
    await slack.submit_view("mod", opened["view"], {"reason": {"reason": {"type": "plain_text_input",
                                                                           "value": "a CDN address"}}})
    (_, _, last) = await slack.mock.wait_for("views.publish", 3)
    assert "(0 waiting)" in all_text(last["view"])
    assert await status_of(slack, 2) is Status.REJECTED


async def test_app_home_of_a_member_and_of_a_stranger(slack: SlackWorld) -> None:
    await slack.command("alice", "submit 203.0.113[.]7 tlp:green", channel="DALICE", key="s")
    await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "s")
    await slack.event({"type": "app_home_opened", "user": "UALICE", "tab": "home"})
    (home,) = await slack.mock.wait_for("views.publish")
    text = all_text(home["view"])
    assert "*alice* · member of *Northbank*" in text and "*Your latest submissions* (1)" in text
    assert "`203.0.113.7` · pending" in text and "Moderation queue" not in text

    await slack.event({"type": "app_home_opened", "user": "UNOBODY", "tab": "home"})
    (_, stranger) = await slack.mock.wait_for("views.publish", 2)
    assert "not a member of the coalition yet" in all_text(stranger["view"])


async def test_next_page_button_of_an_ephemeral_queue_replaces_it(slack: SlackWorld) -> None:
    values = " ".join(f"203.0.113.{n}" for n in range(1, 13))
    await slack.command("alice", f"submit {values} tlp:green", channel="DALICE", key="s")
    await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "s")
    await slack.command("mod", "queue", channel="CGENERAL", key="q")
    (page1,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "q")
    assert "ioc:queue:2" in action_ids(page1["blocks"]) and "1–10 of 12" in all_text(page1.body)
    await slack.click("mod", "ioc:queue:2", channel="CGENERAL", ephemeral=True, key="q2")
    (page2,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "q2")
    assert page2["replace_original"] is True and "11–12 of 12" in all_text(page2.body)
