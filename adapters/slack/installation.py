"""Slack surface: installation. OAuth distribution (one process serves every workspace that installed the app):
the install page and the redirect (bolt's `AsyncOAuthSettings`), installations and OAuth states in the common
store, bot tokens encrypted at rest, and the events that remove an installation.

* Tables: `slack_installations`, `slack_bots`, `slack_oauth_states` (storage.slack_installations), created by
  migration 0006, read and written by slack_sdk's async SQLAlchemy stores over the store's own async engine.
* Tokens: every bot, user and refresh token is encrypted with Fernet (`TokenCipher`) under
  `slack.token_key` (COALITION_SLACK_TOKEN_KEY; several comma-separated keys: the first encrypts, all decrypt, so
  a key can be rotated). A token is never logged; a row the key cannot open is treated as not installed.
* Requests: bolt's `authorize` finds the request's workspace in the store and the listeners use a client with
  that workspace's token (`SlackBot.use_request_client`). A rotating token (the app's "token rotation") is
  refreshed by bolt `slack.token_rotation_minutes` before it expires, and the new one stored encrypted.
* `app_uninstalled` and `tokens_revoked` remove the installation (and write an audit line); the workspace's
  requests are then answered "reinstall the app", its channels are unregistered and its outbox lane dropped
  (audited), and a reinstall through the install page resumes (once an admin registers its channels again).
* Enterprise Grid org-wide installs (`is_enterprise_install`) are stored per org; identities are keyed by
  enterprise + team + user (`replies.workspace_key`).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.sqlalchemy import (
    AsyncSQLAlchemyInstallationStore,
    SQLAlchemyInstallationStore,
)
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import and_, desc
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.config import SlackSettings
from bot import services
from bot.domain import Platform
from storage.slack_installations import BOTS, INSTALLATIONS, OAUTH_STATES

from .replies import SlackBase, split_workspace, workspace_key

log = logging.getLogger(__name__)

STATE_SECONDS = 600
TOKEN_CACHE_SECONDS = 60.0
_TOKEN_FIELDS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")


class TokenKeyError(ValueError):
    """`slack.token_key` is missing or is not a Fernet key."""


class TokenCipher:
    """Fernet encryption of the tokens kept in the store. `keys`: one key or several, comma-separated (the first
    encrypts; every one decrypts). Generate one with `coalition-bot slack token-key` or
    `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`."""

    PREFIX = "fernet:"

    def __init__(self, keys: str) -> None:
        try:
            fernets = [Fernet(k.strip().encode()) for k in keys.split(",") if k.strip()]
        except (ValueError, TypeError) as e:
            raise TokenKeyError("slack.token_key (COALITION_SLACK_TOKEN_KEY) is not a Fernet key: 32 url-safe "
                                "base64-encoded bytes, e.g. from `coalition-bot slack token-key`") from e
        if not fernets:
            raise TokenKeyError("slack.token_key (COALITION_SLACK_TOKEN_KEY) is empty: the stored Slack tokens are "
                                "encrypted with it; generate one with `coalition-bot slack token-key`")
        self._fernet = MultiFernet(fernets)

    def seal(self, token: str | None) -> str | None:
        if not token or token.startswith(self.PREFIX):
            return token
        return self.PREFIX + self._fernet.encrypt(token.encode()).decode()

    def open(self, stored: str | None) -> str | None:
        """The token of a stored value; raises InvalidToken when no key opens it (or it was stored in clear)."""
        if not stored:
            return stored
        if not stored.startswith(self.PREFIX):
            raise InvalidToken("a Slack token in the store is not encrypted")
        return self._fernet.decrypt(stored[len(self.PREFIX):].encode()).decode()


def _copy_with(entity: Any, transform: Any) -> Any:
    """A copy of an Installation or Bot whose token fields went through `transform` (the original is kept)."""
    copy = type(entity).__new__(type(entity))
    copy.__dict__.update(entity.__dict__)
    for name in _TOKEN_FIELDS:
        if hasattr(copy, name):
            setattr(copy, name, transform(getattr(copy, name)))
    return copy


class EncryptedInstallationStore(AsyncSQLAlchemyInstallationStore):
    """slack_sdk's async SQLAlchemy installation store over the store's engine, its tokens encrypted at rest.
    The tables are migration 0006's (never `create_tables()`)."""

    def __init__(self, client_id: str, engine: AsyncEngine, cipher: TokenCipher) -> None:
        super().__init__(client_id, engine, bots_table_name=BOTS, installations_table_name=INSTALLATIONS,
                         logger=log)
        self.cipher = cipher
        self.rotator: AsyncTokenRotator | None = None  # set by oauth_settings: refreshes rotating tokens
        self.rotation_minutes = 120
        self._tokens: dict[str, tuple[str | None, float]] = {}  # workspace -> (bot token, valid until)

    async def bot_token(self, workspace_id: str) -> str | None:
        """The bot token of a workspace (`replies.workspace_key`, as channels and identities are stored): what a
        delivery into that workspace must use, or None when the app is not installed there. An org-wide install
        serves its org's teams. A rotating token about to expire is refreshed (and stored) first. Cached for
        `TOKEN_CACHE_SECONDS`; a save or a delete in this process clears the cache."""
        now = time.monotonic()
        hit = self._tokens.get(workspace_id)
        if hit is not None and hit[1] > now:
            return hit[0]
        enterprise, team = split_workspace(workspace_id)
        bot = await self.async_find_bot(enterprise_id=enterprise, team_id=team)
        if bot is None and enterprise:
            bot = await self.async_find_bot(enterprise_id=enterprise, team_id=None, is_enterprise_install=True)
        if bot is not None and bot.bot_refresh_token and self.rotator is not None:
            refreshed = await self.rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=self.rotation_minutes)
            if refreshed is not None:
                await self.async_save_bot(refreshed)
                bot = refreshed
        token = bot.bot_token if bot is not None else None
        self._tokens[workspace_id] = (token, now + TOKEN_CACHE_SECONDS)
        return token

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self._tokens.clear()
        await super().async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(self, *, enterprise_id: str | None, team_id: str | None,
                                        user_id: str | None = None) -> None:
        self._tokens.clear()
        await super().async_delete_installation(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id)

    async def create_tables(self) -> None:
        raise RuntimeError("the Slack installation tables are created by the migrations (coalition-bot db upgrade)")

    async def async_save(self, installation: Installation) -> None:
        await super().async_save(_copy_with(installation, self.cipher.seal))  # its bot: async_save_bot, sealed

    async def async_save_bot(self, bot: Bot) -> None:
        self._tokens.clear()
        await super().async_save_bot(_copy_with(bot, self.cipher.seal))

    def _opened(self, entity: Any, enterprise_id: str | None, team_id: str | None) -> Any:
        try:
            return _copy_with(entity, self.cipher.open)
        except InvalidToken:
            log.error("the Slack token of %s cannot be decrypted with slack.token_key: treated as not installed "
                      "(restore the key that stored it, or reinstall the app there)",
                      workspace_key(enterprise_id, team_id) or "an org")
            return None

    async def async_find_bot(self, *, enterprise_id: str | None, team_id: str | None,
                             is_enterprise_install: bool | None = False) -> Bot | None:
        bot = await super().async_find_bot(enterprise_id=enterprise_id, team_id=team_id,
                                           is_enterprise_install=is_enterprise_install)
        return None if bot is None else self._opened(bot, enterprise_id, team_id)

    async def async_find_installation(self, *, enterprise_id: str | None, team_id: str | None,
                                      user_id: str | None = None,
                                      is_enterprise_install: bool | None = False) -> Installation | None:
        """slack_sdk's lookup (the latest installation, its bot token the latest bot's), decrypting each row."""
        if is_enterprise_install or team_id is None:
            team_id = None
        c = self.installations.c
        where = and_(c.client_id == self.client_id, c.enterprise_id == enterprise_id, c.team_id == team_id)
        if user_id is not None:
            where = and_(where, c.user_id == user_id)
        query = self.installations.select().where(where).order_by(desc(c.installed_at)).limit(1)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        if row is None:
            return None
        installation = self._opened(SQLAlchemyInstallationStore.build_installation_entity(row), enterprise_id,
                                    team_id)
        if installation is None:
            return None
        if user_id is not None or installation.bot_token is None:
            bot = await self.async_find_bot(enterprise_id=enterprise_id, team_id=team_id,
                                            is_enterprise_install=is_enterprise_install)
            if bot is not None and installation.bot_token != bot.bot_token:
                for name in ("bot_id", "bot_user_id", "bot_token", "bot_scopes", "bot_refresh_token",
                             "bot_token_expires_at"):
                    setattr(installation, name, getattr(bot, name))
        return installation


class PrunedOAuthStateStore(AsyncSQLAlchemyOAuthStateStore):
    """slack_sdk's state store over the store's engine; each new state first deletes the expired ones, so that
    the install page (public, unauthenticated: every view issues a state) keeps at most `STATE_SECONDS` of them."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(STATE_SECONDS, engine, logger=log, table_name=OAUTH_STATES)

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        now = datetime.now(UTC).replace(tzinfo=None)  # the column is naive UTC, as slack_sdk writes it
        async with self.engine.begin() as conn:
            await conn.execute(self.oauth_states.delete().where(self.oauth_states.c.expire_at <= now))
        return await super().async_issue(*args, **kwargs)


def oauth_settings(settings: SlackSettings, engine: AsyncEngine, client: AsyncWebClient) -> AsyncOAuthSettings:
    """bolt's OAuth settings of `slack.client_id` / `client_secret`, with the stores in the common database;
    token rotation calls `oauth.v2.access` through `client` (its `slack.api_url`, session and retries)."""
    assert settings.client_id and settings.client_secret is not None
    cipher = TokenCipher(settings.token_key.get_secret_value() if settings.token_key is not None else "")
    public = (settings.public_url or "").rstrip("/")
    oauth = AsyncOAuthSettings(
        client_id=settings.client_id, client_secret=settings.client_secret.get_secret_value(),
        scopes=settings.scopes, user_scopes=[],
        redirect_uri=f"{public}{settings.redirect_path}" if public else None,
        install_path=settings.install_path, redirect_uri_path=settings.redirect_path,
        authorization_url=settings.authorize_url,
        installation_store=(store := EncryptedInstallationStore(settings.client_id, engine, cipher)),
        installation_store_bot_only=True,
        token_rotation_expiration_minutes=settings.token_rotation_minutes,
        state_store=PrunedOAuthStateStore(engine),
        state_expiration_seconds=STATE_SECONDS, logger=log)
    # bolt checks every request's token with auth.test unless it caches the answer per token; the token itself
    # is still looked up in the store on every request, so an uninstall takes effect at once
    oauth.authorize.cache_enabled = True
    rotator = getattr(oauth.authorize, "token_rotator", None)
    if rotator is not None:  # bolt builds it with a client of its own, on slack.com
        rotator.client = client
        store.rotator, store.rotation_minutes = rotator, settings.token_rotation_minutes
    return oauth


def install_url(settings: SlackSettings) -> str:
    """The link an admin of a member organization opens to install the app in their workspace."""
    if not settings.public_url:
        raise ValueError("slack.public_url is not set: the https:// address where Slack reaches this deployment "
                         "(e.g. public_url = \"https://bot.example.org\")")
    return settings.public_url.rstrip("/") + settings.install_path


class InstallationListeners(SlackBase):
    """The events that end an installation: `app_uninstalled` and `tokens_revoked`."""

    installation_store: EncryptedInstallationStore | None = None

    async def on_uninstalled(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        """The app was uninstalled from a workspace, or its tokens revoked: its installation is removed (so its
        requests are refused with "reinstall the app") and an audit line written. When the bot is gone from the
        workspace (an uninstall, or its bot token revoked), the workspace's channels are unregistered
        (`services.workspace_removed`, audited) and its lane's outbox rows dropped (`delivery.dropped`, audited), in
        the same transaction: nothing is delivered there any more, nothing waits for it; a reinstall resumes once
        an admin registers its channels again. Single-token mode removes no installation (the configured token is
        the operator's to remove) but the workspace is gone all the same."""
        enterprise = str(body.get("enterprise_id") or "") or None
        team = str(body.get("team_id") or "") or None
        if body.get("is_enterprise_install"):
            team = None
        where = workspace_key(enterprise, team)
        kind = str(event.get("type", ""))
        store = self.installation_store
        tokens = event.get("tokens") or {}
        bots, users = list(tokens.get("bot") or []), list(tokens.get("oauth") or [])
        gone = kind == "app_uninstalled" or bool(bots)
        removed: dict[str, Any] | None = None
        if store is None:
            log.warning("Slack %s for %s: this process uses slack.bot_token; remove it from the settings", kind,
                        where)
        elif kind == "app_uninstalled":
            await store.async_delete_all(enterprise_id=enterprise, team_id=team)
            removed = {"installation": True}
        else:
            if bots:
                await store.async_delete_bot(enterprise_id=enterprise, team_id=team)
            for user in users:
                await store.async_delete_installation(enterprise_id=enterprise, team_id=team, user_id=str(user))
            removed = {"bot": bool(bots), "users": len(users)}
        if removed is None and not gone:
            return
        now = self.dispatcher.clock()
        reason = "the app was uninstalled" if kind == "app_uninstalled" else "its bot token was revoked"
        async with self.uow_factory() as uow:
            if removed is not None:
                await uow.audit.append("slack.uninstalled" if kind == "app_uninstalled" else "slack.tokens_revoked",
                                       at=now, platform=Platform.SLACK, member_id=None,
                                       detail={"workspace": where, **removed})
            dropped = 0
            if gone and where:
                await services.workspace_removed(uow, Platform.SLACK, where, now)
                dropped = await uow.outbox.drop_workspace(Platform.SLACK, where, reason, now)
                if dropped:
                    await uow.audit.append("delivery.dropped", at=now, platform=Platform.SLACK, member_id=None,
                                           detail={"workspace": where, "reason": reason, "rows": dropped})
            await uow.commit()
        if removed is not None:
            log.info("Slack %s: the installation of %s was removed", kind, where)
        if gone:
            log.info("Slack %s: workspace %s is gone: its channels unregistered, %s outbox rows waiting for it "
                     "dropped", kind, where, dropped)


__all__ = ["EncryptedInstallationStore", "InstallationListeners", "TokenCipher", "TokenKeyError", "install_url",
           "oauth_settings"]
