"""Issue 13's `/ioc edit` and `/ioc reopen` through Discord: typed slash options joined back into the one grammar
(free text set verbatim), private answers, every posted card edited, the submitter told in a direct message."""

from __future__ import annotations

from bot.domain import Status
from bot.tlp import TLP
from tests.adapters.discord.test_discord_adapter import indicator, moderation_card, submit
from tests.adapters.discord.world import MODERATION, World


async def test_slash_edit_changes_the_item_privately_and_edits_its_cards(world: World) -> None:
    await submit(world, "login.northbank[.]example", tags="phishing")
    card = await moderation_card(world)
    mark = len(world.fake.calls)
    note = "lookalike page; tags:x and tlp:red are words here, not options"
    edit = await world.slash("edit", {"indicator": "#1", "confidence": 85, "tags": "+brand -phishing",
                                      "tlp": "amber", "valid": "30d", "note": note}, user="alice")
    data = (await world.callback(edit, mark)).json["data"]
    assert data["flags"] & 64  # private: for the editor alone
    assert data["content"].startswith("Edited: #1") and data["embeds"][0]["title"].startswith("#1")
    ind, _ = await indicator(world, 1)
    assert (ind.confidence, ind.tags, ind.tlp, ind.note) == (85, ("brand",), TLP.AMBER, note)
    await world.fake.wait_for_call("PATCH", rf"/channels/{MODERATION}/messages/{card['id']}", after=mark,
                                   predicate=lambda c: "TLP:AMBER" in str(c.json))
    # errors name what was wrong and show the form; an item bob may edit not, the same for one he may not see
    mark = len(world.fake.calls)
    wrong = await world.slash("edit", {"indicator": "#1", "tlp": "green"}, user="alice")
    data = (await world.callback(wrong, mark)).json["data"]
    assert "may only make \\#1 more restrictive than TLP\\:AMBER" in data["content"]  # escaped markdown
    assert "/ioc edit #ID [conf:N]" in data["content"]
    mark = len(world.fake.calls)
    other = await world.slash("edit", {"indicator": "#1", "confidence": 10}, user="bob")
    assert "only the organization that submitted \\#1" in (await world.callback(other, mark)).json["data"]["content"]
    assert (await indicator(world, 1))[0].confidence == 85
    world.assert_running()


async def test_slash_reopen_puts_it_back_to_pending_and_tells_the_submitter(world: World) -> None:
    await submit(world, "198.51.100.61")
    mark = len(world.fake.calls)
    reject = await world.slash("reject", {"indicators": "#1", "reason": "benign"}, user="mod")
    await world.callback(reject, mark)
    assert (await indicator(world, 1))[0].status is Status.REJECTED
    mark = len(world.fake.calls)
    reopen = await world.slash("reopen", {"indicator": "#1", "reason": "serves a kit now <@&1> @here"}, user="mod")
    data = (await world.callback(reopen, mark)).json["data"]
    assert data["content"].startswith("Reopened: #1") and data["flags"] & 64
    ind, _ = await indicator(world, 1)
    assert ind.status is Status.PENDING and ind.status_reason == "serves a kit now <@&1> @here"
    # the moderation channel gets the card again, as for a new submission; the submitter is told
    await world.fake.wait_for_call("POST", rf"/channels/{MODERATION}/messages", after=mark,
                                   predicate=lambda c: c.json["embeds"][0]["title"].startswith("#1"))
    told = await world.fake.wait_for_call("POST", r"/channels/\d+/messages", after=mark,
                                          predicate=lambda c: "reopened and waits for moderation" in str(c.json))
    assert "\\@here" in str(told.json) and told.json["allowed_mentions"] == {"parse": []}
    mark = len(world.fake.calls)
    again = await world.slash("reopen", {"indicator": "#1", "reason": "twice"}, user="mod")
    assert "only rejected or revoked" in (await world.callback(again, mark)).json["data"]["content"]
    mark = len(world.fake.calls)
    member = await world.slash("reopen", {"indicator": "#1", "reason": "please"}, user="alice")
    assert "Only moderators can reopen" in (await world.callback(member, mark)).json["data"]["content"]
    world.assert_running()
