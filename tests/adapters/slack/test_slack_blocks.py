"""Block Kit rendering stays within Slack's limits whatever the result's size, and shows what the core decided."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from adapters.slack.blocks import Renderer
from bot import results as r
from bot.domain import Indicator, Member, Role, SightingSummary, Status, Tally
from bot.ioc import IOCType, Observable
from bot.services import buttons_for
from bot.tlp import TLP
from tests.adapters.slack.fake_slack import action_ids, all_text, check_blocks, check_view
from tests.adapters.slack.slack_world import SlackWorld

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def card(n: int, *, note: str = "", tags: tuple[str, ...] = (), moderator: bool = False,
         status: Status = Status.PENDING) -> r.IndicatorCard:
    ind = Indicator(id=n, stix_id=f"indicator--{n}", type=IOCType.URL, value=f"http://host-{n}.example/" + "p" * 200,
                    status=status, tlp=TLP.GREEN, confidence=70, tags=tags, note=note, submitter_id=1,
                    submitter_name="alice", org_id=1, org_name="Northbank", anonymous=False, first_seen=NOW,
                    last_seen=NOW, valid_until=None, created_at=NOW, modified_at=NOW)
    return r.IndicatorCard(ind, "Northbank", status, Tally(3, 1, 2, 1), SightingSummary(4, 2),
                           buttons_for(n, status, moderator))


def test_a_card_shows_every_fact_and_the_core_buttons() -> None:
    blocks = Renderer(confirm_emoji="+1", false_positive_emoji="-1").card_blocks(
        card(7, note="seen in <!here> lures", tags=("phishing", "sms"), moderator=True))
    text = all_text({"blocks": blocks})
    for fact in ("*#7* · URL", "`http://host-7.example/", "pending", "TLP:GREEN", "*Confidence*\n70",
                 "*Submitted by*\nNorthbank", ":+1: 3 confirmations from 2 orgs", ":-1: 1 false positive from 1 org",
                 "*Sightings*\n4 (2 orgs)", "phishing, sms", "seen in &lt;!here&gt; lures"):
        assert fact in text, fact
    assert action_ids(blocks) == ["ioc:vote:7:confirm", "ioc:vote:7:false_positive", "ioc:approve:7", "ioc:reject:7"]
    styles = [e.get("style") for e in blocks[-1]["elements"]]
    assert styles == ["primary", "danger", "primary", "danger"]
    assert check_blocks(blocks, 50) is None


def test_a_thousand_cards_fit_one_message() -> None:
    result = r.LookupResult(tuple(card(n, note="x" * 2000, tags=tuple(f"t{i}" for i in range(20)))
                                  for n in range(1, 1001)),
                            unknown=tuple(f"198.51.100.{n % 250}" for n in range(1000)), invalid=("nope",))
    message = Renderer().message(result)
    assert check_blocks(message.blocks, 50) is None
    assert len(message.text) <= 3000
    assert len(action_ids(message.blocks)) == 20  # the first ten cards keep their buttons


def test_public_replies_are_one_message_per_card() -> None:
    result = r.Moderated("approved", (card(1), card(2)), skipped=("#3 is rejected, not pending",))
    live = Renderer().live_messages(result)
    assert [c.indicator.id for c, _ in live] == [1, 2]
    first, second = (m for _, m in live)
    assert "*Approved:* #1, #2" in all_text({"blocks": first.blocks})
    assert "Skipped #3 is rejected" in all_text({"blocks": second.blocks})
    assert all(check_blocks(m.blocks, 50) is None for _, m in live)


def test_app_home_and_modals_fit_slack_views() -> None:
    member = Member(4, "mod", Role.MODERATOR, 2, "Sentinel Security")
    listing = r.IndicatorList("Moderation queue", tuple(card(n, note="n" * 2000, moderator=True)
                                                        for n in range(10)), 45, 1, 10)
    home = Renderer().home(r.HomeResult(member, listing, listing))
    assert check_view(home) is None and "(45 waiting)" in all_text(home)
    assert "… and 35 more" in all_text(home)
    modal = Renderer.submission_modal(default_tlp=TLP.AMBER, default_confidence=50, values="1.2.3.4\n" * 800,
                                      channel="C1", hint="Found 800 indicators")
    assert check_view(modal) is None
    result = Renderer().result_modal(r.Submitted(tuple(card(n) for n in range(30))))
    assert check_view(result) is None and not action_ids(result["blocks"])


def test_passive_summary_is_compact_and_inert() -> None:
    items = tuple((Observable(IOCType.DOMAIN, f"d{n}.example"), card(n) if n % 2 else None) for n in range(40))
    message = Renderer().passive_message(r.PassiveResult(items))
    assert check_blocks(message.blocks, 50) is None
    text = all_text({"blocks": message.blocks})
    assert "`d0.example` (Domain): not known to the coalition" in text and "… and 15 more" in text


async def test_a_large_lookup_through_slack_is_accepted(slack: SlackWorld) -> None:
    values = " ".join(f"203.0.113.{n}" for n in range(1, 61))
    await slack.command("alice", f"submit {values} tlp:green", channel="DALICE", key="big-submit")
    (submitted,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "big-submit")
    assert "Submitted 60 indicators" in all_text(submitted.body)
    await slack.command("bob", f"lookup {values} 198.51.100.1", key="big")
    (reply,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "big")
    assert reply.status == 200 and len(reply["blocks"]) <= 50
    assert "*#60*" in all_text(reply.body) and "198.51.100.1" in json.dumps(reply.body)
