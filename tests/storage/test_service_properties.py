"""Every service turns any parsed command into a reply, on SQLite and PostgreSQL: Hypothesis drives random and
near-valid `/ioc` texts, button presses with modal reasons, passive messages and submission forms through the
real `Dispatcher` over a real store holding the demo coalition, as each role, in private and in channels, and
asserts that no answer is an `InternalError` (the dispatcher's "Something went wrong" for an unexpected
exception). Plus the named regressions of issue 10 on both backends, and the limits against the columns."""

from __future__ import annotations

import asyncio
import logging
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import String

from adapters.console.channel import WORKSPACE
from adapters.console.demo import MEMBERS, seed
from bot import actions, commands, limits
from bot.commands import FormError, UsageError
from bot.dispatcher import Dispatcher
from bot.domain import Actor, Channel, ChannelPurpose, Platform
from bot.ioc import IOCType
from bot.results import Done, InternalError, Submitted, UserError
from bot.tlp import TLP
from storage import models
from storage.uow import Store, create_store
from tests.grammar_strategies import (
    action_ids,
    command_texts,
    free_text,
    parsing_commands,
    reasons,
    sprinkled,
)

SPEAKERS = [name for name, _, _ in MEMBERS] + ["stranger"]  # member, member, member, moderator, admin, nobody
CHANNELS = [("direct", True), ("general", False), ("feed", False), ("moderation", False), ("passive", False),
            ("elsewhere", False)]
# CI runs 150 examples per property and backend (a few seconds each); COALITION_PROPERTY_EXAMPLES=5000 searches harder
PROPERTY = settings(max_examples=int(os.environ.get("COALITION_PROPERTY_EXAMPLES", "150")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@dataclass
class World:
    loop: asyncio.AbstractEventLoop
    store: Store
    dispatcher: Dispatcher

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def actor(self, speaker: str, channel: str, private: bool) -> Actor:
        return Actor(Platform.CONSOLE, WORKSPACE, speaker, channel, private=private, display_name=speaker)


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    """The demo coalition (with its sample indicators, a passive channel) in one store for the whole test:
    Hypothesis runs many examples against it, in one event loop of the test's own."""
    loop = asyncio.new_event_loop()
    store = create_store(database_url)
    dispatcher = Dispatcher(store.unit_of_work, delivery_platforms=(Platform.SLACK, Platform.DISCORD))
    w = World(loop, store, dispatcher)
    try:
        w.run(seed(store, dispatcher, samples=True))
        w.run(_passive_channel(store))
        yield w
    finally:
        loop.run_until_complete(store.close())
        loop.close()


async def _passive_channel(store: Store) -> None:
    async with store.unit_of_work() as uow:
        await uow.channels.upsert(Channel(Platform.CONSOLE, WORKSPACE, "passive", TLP.GREEN, ChannelPurpose.GENERAL,
                                          passive=True))
        await uow.commit()


def _no_internal_error(answer, what: object, caplog: pytest.LogCaptureFixture) -> None:
    """A reply, never "Something went wrong"; a user error says what was wrong, to the speaker alone."""
    if isinstance(answer.result, InternalError):
        logged = "\n".join(r.getMessage() + "\n" + (r.exc_text or "") for r in caplog.records
                           if r.levelno >= logging.ERROR)
        pytest.fail(f"internal error for {what!r}:\n{logged}")
    if isinstance(answer.result, UserError):
        assert answer.private and answer.result.problem, (what, answer)
        assert limits.text_problem(answer.result.problem) is None, (what, answer.result.problem)


speakers = st.sampled_from(SPEAKERS)
channels = st.sampled_from(CHANNELS)


def test_any_typed_command_gets_a_reply_never_an_internal_error(world: World, caplog) -> None:
    outcomes: Counter[str] = Counter()
    world.dispatcher.observers.append(lambda handled: outcomes.update([handled.outcome]))

    @PROPERTY
    @given(st.one_of(parsing_commands(), parsing_commands(), sprinkled(parsing_commands()), command_texts(),
                     free_text()), speakers, channels)
    def typed(text: str, speaker: str, where: tuple[str, bool]) -> None:
        caplog.clear()
        answer = world.run(world.dispatcher.handle_text(text, world.actor(speaker, *where)))
        _no_internal_error(answer, text, caplog)

    typed()
    # the property means something only if many commands reached their service and did something
    assert outcomes["ok"] >= PROPERTY.max_examples // 5, outcomes


def test_any_button_press_message_or_form_gets_a_reply_never_an_internal_error(world: World, caplog) -> None:
    @PROPERTY
    @given(st.one_of(
        st.tuples(st.just("button"), action_ids(), reasons()),
        st.tuples(st.just("passive"), st.one_of(free_text(), command_texts()), st.just("")),
        st.tuples(st.just("form"), st.one_of(free_text(), st.sampled_from(["203.0.113.99", "evil[.]example"])),
                  st.one_of(reasons(), free_text())),
    ), speakers, channels)
    def pressed(event: tuple[str, str, str], speaker: str, where: tuple[str, bool]) -> None:
        kind, text, extra = event
        try:
            if kind == "button":
                cmd = actions.to_command(actions.parse(text), extra)
            elif kind == "passive":
                cmd = commands.Passive(text)
            else:
                cmd = commands.submit_from_form(values=text, note=extra, tlp="green")
        except (UsageError, FormError):
            return
        caplog.clear()
        answer = world.run(world.dispatcher.handle(cmd, world.actor(speaker, *where)))
        _no_internal_error(answer, cmd, caplog)

    pressed()


# ---------------------------------------------------------------- the examples of issue 10, on both backends

ADMIN_DM = ("admin", "direct", True)


NAMED_EXAMPLES = [
    ("admin retry ²", "id: takes a whole number"),
    ("admin retry 12345678901234567890", "id: takes a whole number"),
    ("submit 203.0.113.50 valid:999999w", "valid: takes a duration from 1m to 3650d"),
    ("search since:999999w", "since: takes a duration from 1m to 3650d"),
    ("admin invite create Northbank expires:999999w", "expires: takes a duration from 1m to 3650d"),
    ("submit 203.0.113.50 seen by our \ud800 gateway", "lone surrogate"),
    ("submit http://evil.example/" + "a" * 2100, "a url has at most 2,048 characters"),
    ("submit http://evil.example/\x00", "NUL"),
    ("submit http%3A%2F%2Fevil%2Eexample%2F%00", "NUL"),
    ("submit 203.0.113.50 note:\"a\x00b\"", "NUL"),
    ("admin org add Evil\x00Corp", "NUL"),
    ("admin org add " + "E" * 101, "at most 100 characters"),
    ("reject #1 bad\x00reason", "NUL"),
    ("search evil\x00", "NUL"),
]


def test_each_named_example_is_a_clear_user_error_and_stores_nothing(world: World) -> None:
    for text, problem in NAMED_EXAMPLES:
        before = world.run(_counts(world.store))
        answer = world.run(world.dispatcher.handle_text(text, world.actor(*ADMIN_DM)))
        assert isinstance(answer.result, UserError), (text, answer.result)
        assert problem in answer.result.problem, (text, answer.result.problem)
        assert answer.private
        assert world.run(_counts(world.store)) == before, text


async def _counts(store: Store) -> tuple[int, int, int]:
    from sqlalchemy import func, select

    async with store.unit_of_work(read_only=True) as uow:
        session = uow.session  # type: ignore[attr-defined]
        return tuple([(await session.execute(select(func.count()).select_from(t))).scalar_one()
                      for t in (models.IndicatorRow, models.OrganizationRow, models.OutboxRow)])


def test_what_fits_is_stored_and_every_path_meets_the_same_limits(world: World) -> None:
    url = "http://evil.example/" + "a" * (limits.VALUE_MAX["url"] - len("http://evil.example/"))
    answer = world.run(world.dispatcher.handle_text(f"submit {url} tlp:green line one\nline two",
                                                    world.actor("bob", "direct", True)))
    assert isinstance(answer.result, Submitted), answer.result
    [card] = answer.result.created
    assert (card.indicator.type, card.indicator.value) == (IOCType.URL, url)
    assert card.indicator.note == "line one line two"
    answer = world.run(world.dispatcher.handle_text('admin org add "Évian Bank" sector:finance trust:60',
                                                    world.actor(*ADMIN_DM)))
    assert isinstance(answer.result, Done), answer.result

    with pytest.raises(UsageError, match="NUL"):
        actions.to_command(actions.parse("ioc:reject:1"), "benign\x00CDN")
    # a command built by some other path still meets the core's checks for names
    answer = world.run(world.dispatcher.handle(commands.OrgAdd("Evil\x00Corp"), world.actor(*ADMIN_DM)))
    assert isinstance(answer.result, UserError) and "NUL" in answer.result.problem
    answer = world.run(world.dispatcher.handle(commands.InviteCreate("Northbank", uses=10**12),
                                               world.actor(*ADMIN_DM)))
    assert isinstance(answer.result, UserError)


def test_every_limit_fits_its_column() -> None:
    def length(column) -> int:
        assert isinstance(column.type, String) and column.type.length
        return column.type.length

    value_column = length(models.IndicatorRow.__table__.c.value)
    assert value_column == limits.VALUE_COLUMN_MAX
    assert max(limits.VALUE_MAX.values()) <= value_column
    assert set(limits.VALUE_MAX) == {t.value for t in IOCType}
    assert length(models.OrganizationRow.__table__.c.name) >= limits.ORG_NAME_MAX
    assert length(models.OrganizationRow.__table__.c.sector) >= limits.SECTOR_MAX
    assert length(models.MemberRow.__table__.c.name) >= limits.MEMBER_NAME_MAX
    assert length(models.IndicatorTagRow.__table__.c.tag) >= limits.TAG_MAX_LEN
    assert length(models.ApiKeyRow.__table__.c.name) >= limits.API_KEY_NAME_MAX
