"""Slack events, commands and interactions in, the core's commands through the dispatcher, Block Kit out.

Built on slack-bolt's `AsyncApp`; the same app serves HTTP mode and Socket Mode (adapters.slack.service).
The adapter is organised by surface, as bolt's own examples are: `commands` (the slash command), `actions`
(buttons, shortcuts), `views` (modals), `events` (reactions, messages, App Home, files) and `installation`
(OAuth distribution: install page, redirect, uninstalls); `replies` holds what they share, above all
`send_reply`, the one way a reply leaves the adapter. This module only builds the bolt app and registers them.

Privacy: every reply to a person leaves through `send_reply`, which honours the core's `Reply.private`; the
contract test (tests/adapters/slack/test_slack_private_contract.py) walks every listener registered here.
Bolt's request verification (signature and timestamp) stays on.
"""

from __future__ import annotations

import logging
import re

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.dispatcher import Dispatcher
from bot.ports import UnitOfWorkFactory

from .actions import MESSAGE_SHORTCUT, SHARE_SHORTCUT, ActionListeners, message_text
from .blocks import REASON_CALLBACK, SUBMIT_CALLBACK, Renderer
from .commands import CommandListeners
from .events import EventListeners, SeenEvents
from .replies import WORK_SLOTS, state_value, team_of
from .views import ViewListeners

log = logging.getLogger(__name__)

__all__ = ["MESSAGE_SHORTCUT", "SHARE_SHORTCUT", "SeenEvents", "SlackBot", "message_text", "state_value", "team_of"]


class SlackBot(CommandListeners, ActionListeners, ViewListeners, EventListeners):
    """The bolt app and the listeners of every surface."""

    def __init__(self, dispatcher: Dispatcher, uow_factory: UnitOfWorkFactory, client: AsyncWebClient, *,
                 signing_secret: str, session: aiohttp.ClientSession | None = None,
                 retry_handlers: list[AsyncRetryHandler] | None = None, renderer: Renderer | None = None,
                 confirm_emoji: str = "white_check_mark", false_positive_emoji: str = "x",
                 ack_budget: float = 2.0, work_slots: int = WORK_SLOTS) -> None:
        super().__init__(dispatcher, uow_factory, client, signing_secret=signing_secret, session=session,
                         retry_handlers=retry_handlers, renderer=renderer, confirm_emoji=confirm_emoji,
                         false_positive_emoji=false_positive_emoji, ack_budget=ack_budget, work_slots=work_slots)
        self.seen = SeenEvents()

        app = AsyncApp(name="coalition-bot", client=client, signing_secret=signing_secret,
                       request_verification_enabled=True, process_before_response=True, logger=log)
        app.middleware(self.skip_retried_events)
        # commands
        app.command(re.compile(r"^/"))(self.on_command)
        # actions: buttons, shortcuts
        app.action(re.compile(r"^ioc:"))(self.on_action)
        app.shortcut(SHARE_SHORTCUT)(self.on_share_shortcut)
        app.shortcut(MESSAGE_SHORTCUT)(self.on_message_shortcut)
        # views: modals
        app.view(SUBMIT_CALLBACK)(self.on_submit)
        app.view(REASON_CALLBACK)(self.on_reason)
        # events
        app.event("reaction_added")(self.on_reaction_added)
        app.event("reaction_removed")(self.on_reaction_removed)
        app.event("message")(self.on_message)
        app.event("app_home_opened")(self.on_home_opened)
        app.event("file_shared")(self.on_file_shared)
        for quiet in ("file_created", "file_change", "file_deleted", "file_public", "file_unshared", "app_mention",
                      "app_home_closed"):
            app.event(quiet)(self._ignore)
        self.app = app
