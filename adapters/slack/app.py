"""Slack events, commands and interactions in, the core's commands through the dispatcher, Block Kit out.

Built on slack-bolt's `AsyncApp`; the same app serves HTTP mode and Socket Mode (adapters.slack.service).
The adapter is organised by surface, as bolt's own examples are: `commands` (the slash command), `actions`
(buttons, shortcuts), `views` (modals), `events` (reactions, messages, App Home, files) and `installation`
(OAuth distribution: install page, redirect, uninstalls); `replies` holds what they share, above all
`send_reply`, the one way a reply leaves the adapter; `channels` where each channel is registered (Slack Connect:
one registration whatever workspace a request names) and `sharing` what Slack says of a channel being shared with
other organizations' workspaces. This module only builds the bolt app and registers them.

Privacy: every reply to a person leaves through `send_reply`, which honours the core's `Reply.private`; the
contract test (tests/adapters/slack/test_slack_private_contract.py) walks every listener registered here.
Bolt's request verification (signature and timestamp) stays on.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from adapters.chat_progress import ProgressTiming
from bot.dispatcher import Dispatcher
from bot.ports import UnitOfWorkFactory

from .actions import MESSAGE_SHORTCUT, SHARE_SHORTCUT, ActionListeners, message_text
from .blocks import REASON_CALLBACK, SUBMIT_CALLBACK, Renderer
from .channels import token_workspace
from .commands import CommandListeners
from .events import EventListeners, SeenEvents
from .installation import EncryptedInstallationStore, InstallationListeners
from .replies import WORK_SLOTS, request_client, state_value, team_of, workspace_key
from .views import ViewListeners

log = logging.getLogger(__name__)

__all__ = ["MESSAGE_SHORTCUT", "SHARE_SHORTCUT", "SeenEvents", "SlackBot", "message_text", "state_value", "team_of"]


class SlackBot(CommandListeners, ActionListeners, ViewListeners, EventListeners, InstallationListeners):
    """The bolt app and the listeners of every surface. `oauth`: OAuth distribution (installations in the store,
    each request answered with its workspace's token); without it, the one token of `client`."""

    def __init__(self, dispatcher: Dispatcher, uow_factory: UnitOfWorkFactory, client: AsyncWebClient, *,
                 signing_secret: str, session: aiohttp.ClientSession | None = None,
                 retry_handlers: list[AsyncRetryHandler] | None = None, renderer: Renderer | None = None,
                 confirm_emoji: str = "white_check_mark", false_positive_emoji: str = "x",
                 ack_budget: float = 2.0, work_slots: int = WORK_SLOTS,
                 oauth: AsyncOAuthSettings | None = None, import_progress: ProgressTiming | None = None) -> None:
        super().__init__(dispatcher, uow_factory, client, signing_secret=signing_secret, session=session,
                         retry_handlers=retry_handlers, renderer=renderer, confirm_emoji=confirm_emoji,
                         false_positive_emoji=false_positive_emoji, ack_budget=ack_budget, work_slots=work_slots)
        self.seen = SeenEvents()
        self.import_progress = import_progress or ProgressTiming()  # a file import's progress message (3 s, 2 s)

        if oauth is not None:
            assert isinstance(oauth.installation_store, EncryptedInstallationStore)
            self.installation_store = oauth.installation_store
        app = AsyncApp(name="coalition-bot", client=client, signing_secret=signing_secret,
                       request_verification_enabled=True, process_before_response=True, logger=log,
                       oauth_settings=oauth)
        app.middleware(self.skip_retried_events)
        app.middleware(self.note_token_workspace)
        if oauth is not None:
            app.middleware(self.use_request_client)
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
        app.event("channel_shared")(self.on_channel_shared)  # Slack Connect
        app.event("channel_unshared")(self.on_channel_unshared)
        for quiet in ("file_created", "file_change", "file_deleted", "file_public", "file_unshared", "app_mention",
                      "app_home_closed"):
            app.event(quiet)(self._ignore)
        # installation
        app.event("app_uninstalled")(self.on_uninstalled)
        app.event("tokens_revoked")(self.on_uninstalled)
        self.app = app

    async def note_token_workspace(self, context: Any, next: Callable[[], Awaitable[Any]]) -> Any:
        """The workspace of the token bolt authorized this request with (Slack Connect: a channel registered from
        here is kept under it, adapters.slack.channels)."""
        result = context.authorize_result
        if result is not None and result.team_id:
            token_workspace.set(workspace_key(result.enterprise_id, result.team_id))
        return await next()

    async def use_request_client(self, context: Any, next: Callable[[], Awaitable[Any]]) -> Any:
        """OAuth mode: the listeners (and the tasks they spawn) use this request's client, which bolt's
        authorize gave its workspace's token."""
        request_client.set(context.client)
        return await next()
