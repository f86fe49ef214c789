"""The discord.py client: the `/ioc` command group, the *Submit indicators* context menu, persistent buttons,
reactions, passive mode and file imports, pointed at configurable REST and gateway URLs.

URLs: `discord.api_url` replaces discord.py's REST base (`discord.http.Route.BASE`, a class attribute that
both the bot's HTTP client and the interaction webhooks read). It is set when a client is constructed with a
non-default URL and restored when the last such client closes; one process talks to one Discord API (two
clients with different API URLs at once are refused). The gateway: discord.py connects to its built-in
gateway for a single shard; the client rewrites that URL to `discord.gateway_url` when set, else, when the
API URL is not Discord's, to the URL that API's `GET /gateway/bot` names.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import discord
import yarl
from discord import app_commands
from discord.http import Route

from adapters.chat_progress import ProgressTiming
from adapters.config import DiscordSettings
from bot import commands
from bot.context import THREAT_TYPES
from bot.dispatcher import Dispatcher
from bot.ports import UnitOfWorkFactory

from .buttons import CardButton
from .guilds import Guilds
from .handler import Handler

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://discord.com/api/v10"

TLP_CHOICES = [app_commands.Choice(name=n, value=v) for n, v in
               (("CLEAR", "clear"), ("GREEN", "green"), ("AMBER", "amber"), ("AMBER+STRICT", "amber+strict"),
                ("RED", "red"))]
VERDICT_CHOICES = [app_commands.Choice(name="Confirm", value="confirm"),
                   app_commands.Choice(name="False positive", value="fp"),
                   app_commands.Choice(name="Withdraw my vote", value="withdraw")]
STATUS_CHOICES = [app_commands.Choice(name=s, value=s) for s in
                  ("pending", "approved", "rejected", "revoked", "expired")]
TYPE_CHOICES = [app_commands.Choice(name=t, value=t) for t in
                ("ipv4", "ipv6", "domain", "url", "email", "md5", "sha1", "sha256", "cve", "asn", "btc")]
CASE_CHOICES = [app_commands.Choice(name=a, value=a) for a in ("new", "add", "remove", "show", "list")]
THREAT_CHOICES = [app_commands.Choice(name=t, value=t) for t in THREAT_TYPES][:25]  # issue 13's context
FORMAT_CHOICES = [app_commands.Choice(name=n, value=v) for n, v in
                  (("STIX 2.1 bundle", "stix"), ("CSV", "csv"), ("Text, one value a line", "txt"))]


def intents(message_content: bool) -> discord.Intents:
    """Guilds, guild and DM messages, reactions; the privileged message-content intent only for passive mode."""
    found = discord.Intents.none()
    found.guilds = True
    found.guild_messages = True
    found.dm_messages = True
    found.guild_reactions = True
    found.dm_reactions = True
    found.message_content = message_content
    return found


def permissions() -> discord.Permissions:
    """Exactly what the bot uses in a channel."""
    return discord.Permissions(view_channel=True, send_messages=True, send_messages_in_threads=True,
                               embed_links=True, attach_files=True, read_message_history=True, add_reactions=True)


def _q(value: str) -> str:
    """One option value as one token of the grammar."""
    value = value.replace('"', "").strip()
    return f'"{value}"' if any(ch.isspace() for ch in value) else value


def _opt(key: str, value: Any) -> str:
    return f"{key}:{_q(str(value))}" if value not in (None, "") else ""


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _refs(value: str | None) -> str:
    """Reference URLs typed space-separated, as the grammar's ref: options (one each)."""
    return _join(*(_opt("ref", url) for url in (value or "").split()))


class CoalitionClient(discord.Client):
    _base_users: ClassVar[int] = 0
    _base_saved: ClassVar[str | None] = None

    def __init__(self, settings: DiscordSettings, dispatcher: Dispatcher, uow_factory: UnitOfWorkFactory, *,
                 default_tlp: str = "amber", guild_ready_timeout: float = 2.0, defer_after: float = 1.0,
                 import_progress: ProgressTiming | None = None) -> None:
        super().__init__(intents=intents(settings.message_content), allowed_mentions=discord.AllowedMentions.none(),
                         application_id=settings.application_id, guild_ready_timeout=guild_ready_timeout)
        self.settings = settings
        self.handler = Handler(self, dispatcher, uow_factory, reaction_confirm=settings.reaction_confirm,
                               reaction_false_positive=settings.reaction_false_positive, default_tlp=default_tlp,
                               defer_after=defer_after, import_progress=import_progress)
        self.tree = app_commands.CommandTree(self, allowed_contexts=app_commands.AppCommandContext(
            guild=True, dm_channel=True, private_channel=False))
        install_commands(self.tree, self.handler)
        self.lifecycle = Guilds(uow_factory, dispatcher.clock)  # joining, leaving and finding guilds
        self._api_url = settings.api_url.rstrip("/")
        self._uses_base = False
        self._use_api_base()
        self._gateway: yarl.URL | None = yarl.URL(settings.gateway_url) if settings.gateway_url else None
        connect = self.http.ws_connect

        async def ws_connect(url: str, *, compress: int = 0) -> Any:
            return await connect(await self._gateway_for(url), compress=compress)

        self.http.ws_connect = ws_connect  # type: ignore[method-assign]

    # ------------------------------------------------------------------ URLs

    def _use_api_base(self) -> None:
        if self._api_url == DEFAULT_API_URL:
            return
        cls = CoalitionClient
        if cls._base_users and self._api_url != Route.BASE:
            raise RuntimeError(f"discord.py already talks to {Route.BASE} in this process")
        if not cls._base_users:
            cls._base_saved = Route.BASE
            Route.BASE = self._api_url
        cls._base_users += 1
        self._uses_base = True

    def _release_api_base(self) -> None:
        if not self._uses_base:
            return
        self._uses_base = False
        cls = CoalitionClient
        cls._base_users -= 1
        if not cls._base_users and cls._base_saved is not None:
            Route.BASE = cls._base_saved

    async def _gateway_for(self, url: str) -> str:
        """discord.py's built-in gateway becomes the configured (or discovered) one; resume URLs stay."""
        given = yarl.URL(url)
        if given.host != discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY.host:
            return url
        if self._gateway is None and self._api_url != DEFAULT_API_URL:
            _, found, _ = await self.http.get_bot_gateway()
            self._gateway = yarl.URL(found)
        if self._gateway is None:
            return url
        return str(self._gateway.with_query(given.query))

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            self._release_api_base()

    # ------------------------------------------------------------------ events

    async def setup_hook(self) -> None:
        self.add_dynamic_items(CardButton)  # buttons on messages posted before a restart keep working

    async def on_message(self, message: discord.Message) -> None:
        try:
            await self.handler.on_message(message)
        except Exception:
            log.exception("discord: message %s failed", message.id)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self.handler.on_reaction(payload, added=True)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self.handler.on_reaction(payload, added=False)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        log.info("discord: added to guild %s (%d members); an admin registers its channels with /ioc admin channel",
                 guild.id, guild.member_count or 0)

    async def on_guild_available(self, guild: discord.Guild) -> None:
        if not self.is_ready():  # the guilds of the first READY are adopted by the service once connected
            return
        try:
            await self.lifecycle.adopt([guild])
        except Exception:
            log.exception("discord: could not adopt the channels of guild %s", guild.id)

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """The bot was removed from the guild (or it was deleted): like an uninstall. Should this fail (the store
        is down), the next start finds the guild missing and unregisters it then."""
        try:
            await self.lifecycle.removed(guild)
        except Exception:
            log.exception("discord: could not unregister the channels of guild %s", guild.id)


def install_commands(tree: app_commands.CommandTree, handler: Handler) -> None:
    """`/ioc VERB` with typed options, and the *Submit indicators* message context menu."""
    ioc = app_commands.Group(name="ioc", description="Share, look up, vote on and moderate indicators of compromise")

    async def indicator_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=n, value=v) for n, v in await handler.suggest_indicators(interaction,
                                                                                                  current)]

    async def tag_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        head, _, last = current.rpartition(",")
        return [app_commands.Choice(name=(head + "," if head else "") + t, value=(head + "," if head else "") + t)
                for t in await handler.suggest_tags(interaction, last)]

    async def malware_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=m, value=m) for m in await handler.suggest_malware(interaction, current)]

    @ioc.command(name="submit", description="Share indicators (defanged is fine); they wait for moderation")
    @app_commands.describe(values="One or many values, separated by spaces", tlp="Who may see them",
                           confidence="0-100", tags="Comma separated", valid="How long they are valid, e.g. 30d",
                           anonymous="Hide your organization from the others", note="Context for the coalition",
                           override="Submit a value that is on a warninglist (the note says why)",
                           threat="What it is (ThreatFox's threat types)", malware="The malware family, e.g. emotet",
                           ref="Reference URLs, separated by spaces (at most 3)")
    @app_commands.choices(tlp=TLP_CHOICES, threat=THREAT_CHOICES)
    @app_commands.autocomplete(tags=tag_autocomplete, malware=malware_autocomplete)
    async def submit(interaction: discord.Interaction, values: str, tlp: str | None = None,
                     confidence: app_commands.Range[int, 0, 100] | None = None, tags: str | None = None,
                     valid: str | None = None, anonymous: bool = False, override: bool = False,
                     note: app_commands.Range[str, 0, 2000] | None = None, threat: str | None = None,
                     malware: app_commands.Range[str, 0, 100] | None = None,
                     ref: app_commands.Range[str, 0, 1600] | None = None) -> None:
        text = _join("submit", values.replace('"', ""), _opt("tlp", tlp), _opt("conf", confidence),
                     _opt("tags", (tags or "").replace(" ", ",")), _opt("valid", valid),
                     _opt("threat", threat), _opt("malware", malware), _refs(ref),
                     "anon" if anonymous else "", "override" if override else "")
        await handler.run_text(interaction, text, verb="submit", amend={"note": (note or "").strip()})

    @ioc.command(name="lookup", description="Status, TLP, votes and sightings of indicators")
    @app_commands.describe(values="Values or #IDs, separated by spaces")
    @app_commands.autocomplete(values=indicator_autocomplete)
    async def lookup(interaction: discord.Interaction, values: str) -> None:
        await handler.run_text(interaction, _join("lookup", values.replace('"', "")), verb="lookup")

    @ioc.command(name="vote", description="Confirm an indicator or call it a false positive")
    @app_commands.choices(verdict=VERDICT_CHOICES)
    @app_commands.autocomplete(indicator=indicator_autocomplete)
    async def vote(interaction: discord.Interaction, indicator: str, verdict: str,
                   reason: app_commands.Range[str, 0, 500] | None = None) -> None:
        await handler.run_text(interaction, _join("vote", _q(indicator), verdict), verb="vote",
                               amend={"reason": (reason or "").strip()})

    @ioc.command(name="sighting", description="Your organization saw this indicator too")
    @app_commands.autocomplete(indicator=indicator_autocomplete)
    async def sighting(interaction: discord.Interaction, indicator: str,
                       count: app_commands.Range[int, 1, 1_000_000] = 1,
                       note: app_commands.Range[str, 0, 500] | None = None) -> None:
        await handler.run_text(interaction, _join("sighting", _q(indicator), _opt("count", count)), verb="sighting",
                               amend={"note": (note or "").strip()})

    @ioc.command(name="search", description="Search the indicators you may see, newest first")
    @app_commands.choices(type=TYPE_CHOICES, status=STATUS_CHOICES, tlp=TLP_CHOICES)
    @app_commands.autocomplete(tag=tag_autocomplete)
    async def search(interaction: discord.Interaction, text: str | None = None, type: str | None = None,
                     tag: str | None = None, status: str | None = None, org: str | None = None,
                     since: str | None = None, tlp: str | None = None,
                     page: app_commands.Range[int, 1, 10_000] | None = None,
                     min_score: app_commands.Range[int, 0, 100] | None = None) -> None:
        await handler.run_text(interaction, _join("search", _opt("type", type), _opt("tag", tag),
                                                  _opt("status", status), _opt("org", org), _opt("since", since),
                                                  _opt("tlp", tlp), _opt("page", page), _opt("min_score", min_score),
                                                  (text or "").replace('"', "")), verb="search")

    @ioc.command(name="queue", description="Moderators: the indicators waiting for a decision")
    async def queue(interaction: discord.Interaction, page: app_commands.Range[int, 1, 10_000] = 1) -> None:
        await handler.run_text(interaction, _join("queue", _opt("page", page)), verb="queue")

    def refs(indicators: str) -> str:
        return " ".join(_q(t) for t in indicators.replace(",", " ").split())

    @ioc.command(name="approve", description="Moderators: approve indicators for the coalition feed")
    @app_commands.describe(indicators="#IDs separated by spaces", note="An optional note")
    @app_commands.autocomplete(indicators=indicator_autocomplete)
    async def approve(interaction: discord.Interaction, indicators: str,
                      note: app_commands.Range[str, 0, 500] | None = None) -> None:
        await handler.run_text(interaction, _join("approve", refs(indicators)), verb="approve",
                               amend={"note": (note or "").strip()})

    @ioc.command(name="reject", description="Moderators: reject pending indicators, with a reason")
    @app_commands.describe(indicators="#IDs separated by spaces", reason="Why (the submitter is told)")
    @app_commands.autocomplete(indicators=indicator_autocomplete)
    async def reject(interaction: discord.Interaction, indicators: str,
                     reason: app_commands.Range[str, 1, 500]) -> None:
        # "-" stands for the reason in the grammar's text; the reason itself is set verbatim
        text = _join("reject", refs(indicators), "-" if reason.strip() else "")
        await handler.run_text(interaction, text, verb="reject", amend={"reason": reason.strip()})

    @ioc.command(name="revoke", description="Moderators: withdraw approved indicators, with a reason")
    @app_commands.describe(indicators="#IDs separated by spaces", reason="Why (the coalition is told)")
    @app_commands.autocomplete(indicators=indicator_autocomplete)
    async def revoke(interaction: discord.Interaction, indicators: str,
                     reason: app_commands.Range[str, 1, 500]) -> None:
        text = _join("revoke", refs(indicators), "-" if reason.strip() else "")
        await handler.run_text(interaction, text, verb="revoke", amend={"reason": reason.strip()})

    @ioc.command(name="edit", description="Correct an indicator of your organization (moderators: any they see)")
    @app_commands.describe(indicator="#ID or value", confidence="0-100",
                           tags="+a,-b adds and removes tags; a,b replaces them", valid="Valid from now on, e.g. 30d",
                           tlp="Your organization may only make it more restrictive", note="Replaces its description",
                           threat="What it is (none removes it)", malware="The malware family (none removes it)",
                           ref="Reference URLs separated by spaces: replace them (none removes them)")
    @app_commands.choices(tlp=TLP_CHOICES)
    @app_commands.autocomplete(indicator=indicator_autocomplete, malware=malware_autocomplete)
    async def edit(interaction: discord.Interaction, indicator: str,
                   confidence: app_commands.Range[int, 0, 100] | None = None, tags: str | None = None,
                   valid: str | None = None, tlp: str | None = None,
                   note: app_commands.Range[str, 0, 2000] | None = None,
                   threat: app_commands.Range[str, 0, 40] | None = None,
                   malware: app_commands.Range[str, 0, 100] | None = None,
                   ref: app_commands.Range[str, 0, 1600] | None = None) -> None:
        # "-" stands for the note in the grammar's text; the note itself is set verbatim
        text = _join("edit", _q(indicator), _opt("conf", confidence), _opt("tags", (tags or "").replace(" ", ",")),
                     _opt("valid", valid), _opt("tlp", tlp), _opt("threat", threat), _opt("malware", malware),
                     _refs(ref), "-" if (note or "").strip() else "")
        await handler.run_text(interaction, text, verb="edit", amend={"note": (note or "").strip()})

    @ioc.command(name="reopen", description="Moderators: put a rejected or revoked indicator back to pending")
    @app_commands.describe(indicator="#ID or value", reason="Why (the submitter and the moderators are told)")
    @app_commands.autocomplete(indicator=indicator_autocomplete)
    async def reopen(interaction: discord.Interaction, indicator: str,
                     reason: app_commands.Range[str, 1, 500]) -> None:
        text = _join("reopen", _q(indicator), "-" if reason.strip() else "")
        await handler.run_text(interaction, text, verb="reopen", amend={"reason": reason.strip()})

    @ioc.command(name="why", description="How an indicator's score was reached, step by step")
    @app_commands.describe(indicator="#ID or value")
    @app_commands.autocomplete(indicator=indicator_autocomplete)
    async def why(interaction: discord.Interaction, indicator: str) -> None:
        await handler.run_text(interaction, _join("why", _q(indicator)), verb="why")

    @ioc.command(name="comment", description="Comment on an indicator (whoever may see it reads the comments)")
    @app_commands.describe(indicator="#ID or value", text="Your comment")
    @app_commands.autocomplete(indicator=indicator_autocomplete)
    async def comment(interaction: discord.Interaction, indicator: str,
                      text: app_commands.Range[str, 1, 2000]) -> None:
        # "-" stands for the text in the grammar's text; the comment itself is set verbatim
        await handler.run_text(interaction, _join("comment", _q(indicator), "-" if text.strip() else ""),
                               verb="comment", amend={"text": text.strip()})

    @ioc.command(name="case", description="Cases group indicators: new, add, remove, show, list")
    @app_commands.describe(action="What to do", name="The case's name, e.g. op-nightfall",
                           indicators="#IDs separated by spaces (add; remove takes one)",
                           tlp="Who may see the case (new)", description="What the case is (new)")
    @app_commands.choices(action=CASE_CHOICES, tlp=TLP_CHOICES)
    @app_commands.autocomplete(indicators=indicator_autocomplete)
    async def case(interaction: discord.Interaction, action: str, name: str | None = None,
                   indicators: str | None = None, tlp: str | None = None,
                   description: app_commands.Range[str, 0, 2000] | None = None) -> None:
        text = _join("case", action, _q(name or ""), (indicators or "").replace('"', ""), _opt("tlp", tlp),
                     "-" if (description or "").strip() and action == "new" else "")
        amend = {"description": (description or "").strip()} if action == "new" else None
        await handler.run_text(interaction, text, verb="case", amend=amend)

    @ioc.command(name="join", description="Join your organization with an invite code")
    async def join(interaction: discord.Interaction, code: str) -> None:
        await handler.run_text(interaction, _join("join", _q(code)), verb="join")

    @ioc.command(name="link", description="Link your identity on another platform: no code gives one, a code uses it")
    @app_commands.describe(code="The code /ioc link gave you where you are a member; leave empty to get one")
    async def link(interaction: discord.Interaction, code: str | None = None) -> None:
        await handler.run_text(interaction, _join("link", _q(code or "")), verb="link")

    @ioc.command(name="whoami", description="Your organization, role and linked identities")
    async def whoami(interaction: discord.Interaction) -> None:
        await handler.run_text(interaction, "whoami", verb="whoami")

    @ioc.command(name="home", description="Your overview: role, your latest submissions, the queue")
    async def home(interaction: discord.Interaction) -> None:
        await handler.run_command(interaction, commands.Home(), public=False)

    @ioc.command(name="watch", description="Be told when an indicator that concerns you shows up")
    @app_commands.describe(action="add, list or remove",
                           target="add: an IP/CIDR, a domain, brand:WORD, tag:TAG, malware:NAME or type:TYPE; "
                                  "remove: W7",
                           options="add: [org:NAME] [channel] [digest:daily] [self:on] [note...]")
    @app_commands.choices(action=[app_commands.Choice(name=a, value=a) for a in ("add", "list", "remove")])
    async def watch(interaction: discord.Interaction, action: str, target: str | None = None,
                    options: str | None = None) -> None:
        await handler.run_text(interaction, _join("watch", action, _q(target or ""), options or ""), verb="watch")

    @ioc.command(name="stats", description="What the coalition's store holds")
    @app_commands.describe(view="orgs: each organization's standing (submitted, approved, confirmed by others...)")
    @app_commands.choices(view=[app_commands.Choice(name="orgs", value="orgs")])
    async def stats(interaction: discord.Interaction, view: str | None = None) -> None:
        await handler.run_text(interaction, _join("stats", view or ""), verb="stats")

    @ioc.command(name="help", description="The commands, or one verb's help")
    async def help_(interaction: discord.Interaction, verb: str | None = None) -> None:
        await handler.run_text(interaction, _join("help", _q(verb or "")), verb="help")

    @ioc.command(name="export", description="A file of the indicators you may see")
    @app_commands.choices(format=FORMAT_CHOICES, status=STATUS_CHOICES, tlp=TLP_CHOICES, type=TYPE_CHOICES)
    @app_commands.autocomplete(tag=tag_autocomplete)
    async def export(interaction: discord.Interaction, format: str = "stix", status: str | None = None,
                     tlp: str | None = None, type: str | None = None, tag: str | None = None,
                     since: str | None = None, min_score: app_commands.Range[int, 0, 100] | None = None) -> None:
        await handler.run_text(interaction, _join("export", _opt("format", format), _opt("status", status),
                                                  _opt("tlp", tlp), _opt("type", type), _opt("tag", tag),
                                                  _opt("since", since), _opt("min_score", min_score)), verb="export",
                               defer_now=True)

    @ioc.command(name="import", description="Submit the indicators in a file (STIX 2.1 JSON, CSV or text)")
    async def import_(interaction: discord.Interaction, file: discord.Attachment) -> None:
        from .handler import MAX_IMPORT_BYTES

        if file.size > MAX_IMPORT_BYTES:
            await handler.run_text(interaction, "import", verb="import")  # the core's usage answer
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = await file.read()
        await handler.run_import(interaction, commands.ImportFile(file.filename, data))

    @ioc.command(name="admin", description="Admins: organizations, members, invites, this channel's settings")
    @app_commands.describe(command="e.g. org add NAME · member role m7 moderator · member remove m7 · invite list · "
                                   "org disable NAME · channel set passive:on")
    async def admin(interaction: discord.Interaction, command: str) -> None:
        await handler.run_text(interaction, _join("admin", command), verb="admin")

    tree.add_command(ioc)

    @app_commands.context_menu(name="Submit indicators")
    async def submit_from_message(interaction: discord.Interaction, message: discord.Message) -> None:
        await interaction.response.send_modal(handler.submit_modal(message))

    tree.add_command(submit_from_message)

