"""Typed settings, built once at start-up from a TOML file plus environment variables.

Precedence: environment (`COALITION_<SECTION>_<KEY>`, e.g. `COALITION_DATABASE_URL`,
`COALITION_POLICY_AUTO_APPROVE_CONFIRMATIONS`) over the TOML file (`coalition.toml`, or the path in
`COALITION_CONFIG` / `--config`) over the defaults below. Secrets are `SecretStr`: never logged or echoed.
A key that is not a setting (in the file: any section or key; in the environment: a `COALITION_` variable
whose section is, or nearly is, one of ours) is an error that names it and the nearest valid one: a typo
never silently leaves a default in force.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from bot.ioc import IOCType
from bot.policy import Policy, WarninglistAction
from bot.score import LIFETIMES_DAYS, ScoreModel
from bot.tlp import TLP
from bot.weekly_schedule import DAYS, WeeklySchedule, day_number

DEFAULT_CONFIG_PATH = Path("coalition.toml")


class Section(BaseModel):
    """One `[section]` of coalition.toml: a key that is not one of its settings is refused, never ignored."""

    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(Section):
    url: SecretStr = SecretStr("sqlite+aiosqlite:///./coalition.db")
    upgrade_on_start: bool = True
    start_wait_seconds: float = Field(60.0, ge=0, description="how long `run` waits for an unreachable database")


class PolicySettings(Section):
    default_tlp: str = "amber"
    default_confidence: int = Field(50, ge=0, le=100)
    default_valid_days: int = Field(180, ge=0, description="0 = indicators never expire by default")
    default_channel_ceiling: str = "green"
    auto_approve_confirmations: int = Field(0, ge=0)
    warninglist_action: WarninglistAction = WarninglistAction.WARN
    max_values_per_command: int = Field(1000, ge=1, le=100_000)
    page_size: int = Field(10, ge=1, le=100)

    @field_validator("default_tlp", "default_channel_ceiling")
    @classmethod
    def _tlp(cls, value: str) -> str:
        return TLP.parse(value).value

    def to_policy(self, score: ScoreSettings | None = None) -> Policy:
        """The policy; `score` the `[score]` section (None: its defaults)."""
        ceiling = TLP.parse(self.default_channel_ceiling)
        if not ceiling.shareable_in_channels:
            raise ValueError("policy.default_channel_ceiling is clear, green or amber")
        return Policy(
            default_tlp=TLP.parse(self.default_tlp),
            default_confidence=self.default_confidence,
            default_valid_for=timedelta(days=self.default_valid_days) if self.default_valid_days else None,
            default_channel_ceiling=ceiling,
            auto_approve_confirmations=self.auto_approve_confirmations,
            warninglist_action=self.warninglist_action,
            max_values_per_command=self.max_values_per_command,
            page_size=self.page_size,
            **(score.to_policy_fields() if score is not None else {}),
        )


class ScoreSettings(Section):
    """`[score]`: how indicators' scores decay (bot.score) and whether a low score expires an approved item."""

    lifetimes: dict[str, float] = Field({}, description="days per type, over OpenCTI's defaults")
    decay_speed: float = Field(0.5, gt=0, le=10)
    threshold: float = Field(20.0, ge=0, le=100)
    expire_below: float | None = Field(None, ge=0, le=100)

    @field_validator("lifetimes")
    @classmethod
    def _lifetimes(cls, value: dict[str, float]) -> dict[str, float]:
        types = {t.value for t in IOCType}
        for kind, days in value.items():
            if kind.lower() not in types:
                raise ValueError(f"score.lifetimes: '{kind}' is not a type; types: {', '.join(sorted(types))}")
            if not 0 < days <= 36_500:
                raise ValueError(f"score.lifetimes: {kind} lives 0 < days <= 36500, not {days}")
        return {k.lower(): float(v) for k, v in value.items()}

    def to_policy_fields(self) -> dict[str, Any]:
        lifetimes = {**LIFETIMES_DAYS, **{IOCType(k): v for k, v in self.lifetimes.items()}}
        model = ScoreModel(lifetimes_days=lifetimes, decay_speed=self.decay_speed, threshold=self.threshold)
        return {"score_model": model, "score_expire_below": self.expire_below}


class WarninglistSettings(Section):
    enabled: bool = True
    include: list[str] = Field([], description="MISP list names; empty = the default subset")
    exclude: list[str] = []
    cache_dir: Path | None = None

    def cache_directory(self) -> Path:
        """Where the built warninglist index is kept: `cache_dir`, else the user's cache directory."""
        if self.cache_dir is not None:
            return self.cache_dir
        from platformdirs import user_cache_path

        return user_cache_path("coalition-bot")


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_format: bool = False


class SlackSettings(Section):
    """Slack: Socket Mode (app_token, no public URL) or HTTP mode (signing_secret, one endpoint)."""

    enabled: bool = False
    mode: Literal["socket", "http"] = "socket"
    bot_token: SecretStr | None = None  # xoxb-...   COALITION_SLACK_BOT_TOKEN
    app_token: SecretStr | None = None  # xapp-...   COALITION_SLACK_APP_TOKEN (socket mode)
    signing_secret: SecretStr | None = None  # COALITION_SLACK_SIGNING_SECRET (http mode)
    api_url: str = "https://slack.com/api/"  # GovSlack / Enterprise deployments, tests
    http_host: str = "0.0.0.0"  # noqa: S104 - the HTTP mode endpoint listens for Slack's requests
    http_port: int = Field(3000, ge=0, le=65535)
    http_path: str = "/slack/events"
    reaction_confirm: str = "white_check_mark"
    reaction_false_positive: str = "x"
    # OAuth distribution (one process, many workspaces; HTTP mode): set client_id to use it. See the README's
    # "Slack: many workspaces".
    client_id: str | None = None  # COALITION_SLACK_CLIENT_ID
    client_secret: SecretStr | None = None  # COALITION_SLACK_CLIENT_SECRET
    token_key: SecretStr | None = None  # COALITION_SLACK_TOKEN_KEY: Fernet key(s) the stored bot tokens are
    #                                     encrypted with (comma-separated: the first encrypts, all decrypt)
    public_url: str | None = None  # https://bot.example.org: where Slack reaches this process (redirect URL)
    install_path: str = "/slack/install"
    redirect_path: str = "/slack/oauth_redirect"
    authorize_url: str = "https://slack.com/oauth/v2/authorize"  # GovSlack, tests
    scopes: list[str] = Field(default_factory=lambda: [  # slack-manifest.yml's bot scopes
        "commands", "chat:write", "chat:write.public", "im:write", "im:history", "channels:history",
        "groups:history", "reactions:read", "files:read", "files:write", "channels:read", "groups:read"])
    token_rotation_minutes: int = Field(120, ge=1, le=720)  # refresh a rotating token this long before it expires

    @property
    def oauth(self) -> bool:
        """OAuth distribution: installations in the store, a token per workspace (else the one `bot_token`)."""
        return bool(self.client_id)

    def missing(self) -> list[str]:
        if not self.enabled:
            return []
        if self.oauth:
            needed = ["client_secret", "signing_secret", "token_key"]
            if self.mode != "http":
                return ["slack.mode = \"http\" (OAuth mode needs the HTTP endpoint for the redirect)"]
        else:
            needed = ["bot_token", "app_token" if self.mode == "socket" else "signing_secret"]
        return [f"slack.{key}" for key in needed if getattr(self, key) is None]


class DiscordSettings(Section):
    enabled: bool = False
    token: SecretStr | None = None  # COALITION_DISCORD_TOKEN
    application_id: int | None = None
    api_url: str = "https://discord.com/api/v10"  # Discord-compatible servers, tests
    gateway_url: str | None = None  # None: the one Discord's REST API names
    guild_ids: list[int] = Field([], description="guilds for `coalition-bot discord sync`")
    reaction_confirm: str = "✅"
    reaction_false_positive: str = "❌"
    message_content: bool = False  # privileged intent, needed for passive mode in guild channels (enable it in
    #                                the Developer Portal too)

    def missing(self) -> list[str]:
        if not self.enabled:
            return []
        return [f"discord.{key}" for key in ("token", "application_id") if getattr(self, key) is None]


class TaxiiSettings(Section):
    """The TAXII 2.1 server (adapters/taxii): `coalition-bot taxii`, or within `coalition-bot run` when enabled."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(9000, ge=0, le=65535)
    base_path: str = "/taxii2/"
    api_root: str = "coalition"
    title: str = "Coalition Bot TAXII 2.1"
    indicators_collection: str = "5f1dd5b8-4c35-4f2e-9a8e-6f6b0b7c2d11"  # read: approved indicators
    submissions_collection: str = "a3c0e4de-7b8a-4b61-8d0b-2f7f3f1e9c42"  # write: pending submissions
    submissions_enabled: bool = True
    page_size: int = Field(1000, ge=1, le=10_000)
    max_content_length: int = Field(50 * 1024 * 1024, ge=1024)
    feeds_enabled: bool = Field(True, description="serve the blocklists at /feeds/ (ipv4.txt, domain.txt, "
                                "rpz.zone, ...) to organizations' API keys")
    feed_key_in_query: bool = Field(False, description="also take the key as ?key= for devices that cannot send "
                                    "an Authorization header (the key then shows in logs and proxies)")
    pull_key: SecretStr | None = None  # COALITION_TAXII_PULL_KEY: `taxii pull`'s key for the other server


class DeliverySettings(Section):
    """How adapters deliver the outbox (posts to feed and moderation channels, card edits, DMs)."""

    lease_seconds: float = Field(60.0, gt=0, description="a claimed row returns to the queue after this long "
                                 "if its deliverer died")
    poll_seconds: float = Field(1.0, gt=0, description="how often to look for rows other processes wrote")
    max_attempts: int = Field(8, ge=1, description="failures before a row is parked for admins")


class DigestSettings(Section):
    """`[digest]`: the weekly digest (the chart and the week's numbers) in every feed channel (bot.weekly)."""

    weekly: bool = False
    day: str = "monday"
    hour: int = Field(9, ge=0, le=23, description="UTC")

    @field_validator("day")
    @classmethod
    def _day(cls, value: str) -> str:
        return DAYS[day_number(value)]

    def schedule(self) -> WeeklySchedule | None:
        """When the maintenance loop writes the digest; None when it is off."""
        return WeeklySchedule(day_number(self.day), self.hour) if self.weekly else None


class OpsSettings(Section):
    """Health (`/healthz`) and Prometheus metrics (`/metrics`) of `coalition-bot run`."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(9102, ge=0, le=65535)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="COALITION_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="forbid",
        toml_file=None,
    )

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    score: ScoreSettings = Field(default_factory=ScoreSettings)
    warninglists: WarninglistSettings = Field(default_factory=WarninglistSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    ops: OpsSettings = Field(default_factory=OpsSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    taxii: TaxiiSettings = Field(default_factory=TaxiiSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)

    def core_policy(self) -> Policy:
        """The core's policy: `[policy]` with the score model of `[score]`."""
        return self.policy.to_policy(self.score)

    def missing(self) -> list[str]:
        """Settings an enabled adapter needs and does not have."""
        return self.slack.missing() + self.discord.missing()

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls)


class ConfigError(ValueError):
    """The configuration names something that is not a setting; one line per problem, each saying what to write."""


ENV_PREFIX = "COALITION_"
ENV_NOT_SETTINGS = {"COALITION_CONFIG"}  # the path of the file, not a setting in it


def _suggest(word: str, candidates: Iterable[str], form: str = "{}") -> str:
    choices = list(candidates)
    close = difflib.get_close_matches(word.lower(), choices, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {form.format(close[0])}?"
    return f"; valid ones are {', '.join(form.format(c) for c in choices)}"


def _keys(section: str) -> list[str]:
    annotation = Settings.model_fields[section].annotation
    return list(annotation.model_fields) if isinstance(annotation, type) else []


def unknown_settings(file_data: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    """Every key of the file and every `COALITION_` variable that looks like a setting but is none, each with the
    nearest valid name."""
    sections = list(Settings.model_fields)
    problems: list[str] = []
    for name, table in file_data.items():
        if name not in sections:
            if isinstance(table, dict):
                problems.append(f"[{name}] is not a section{_suggest(name, sections, '[{}]')}")
            else:
                owners = [s for s in sections if name.lower() in _keys(s)]
                hint = f"; did you mean {name} under [{owners[0]}]?" if owners else _suggest(name, sections, "[{}]")
                problems.append(f"{name} at the top of the file is not a setting (settings go in sections){hint}")
            continue
        if not isinstance(table, dict):
            problems.append(f"{name} is a section: write [{name}] and its settings on the lines below it")
            continue
        keys = _keys(name)
        problems += [f"[{name}] {key} is not a setting{_suggest(key, keys)}" for key in table if key not in keys]
    env_names = [f"{ENV_PREFIX}{s}_{k}".upper() for s in sections for k in _keys(s)]
    for variable in sorted(environ):
        upper = variable.upper()
        if not upper.startswith(ENV_PREFIX) or upper in ENV_NOT_SETTINGS or upper in env_names:
            continue
        section = upper[len(ENV_PREFIX):].split("_", 1)[0].lower()
        if section in sections or difflib.get_close_matches(section, sections, n=1, cutoff=0.8):
            close = difflib.get_close_matches(upper, env_names, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else \
                f"; `coalition-bot config reference` lists the {len(env_names)} that are"
            problems.append(f"environment variable {variable} is not a setting{hint}")
    return problems


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path} is not valid TOML: {e}") from None


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings once. An explicitly named file must exist; the default one may be absent. A key in the
    file or a `COALITION_` variable that is not a setting raises `ConfigError` naming it and the nearest one."""
    explicit = path or (Path(os.environ["COALITION_CONFIG"]) if os.environ.get("COALITION_CONFIG") else None)
    if explicit is not None and not explicit.exists():
        raise FileNotFoundError(f"configuration file {explicit} does not exist")
    problems = unknown_settings(_read_toml(explicit or DEFAULT_CONFIG_PATH), os.environ)
    if problems:
        raise ConfigError("\n".join(problems))

    class FromFile(Settings):
        model_config = SettingsConfigDict(toml_file=explicit or DEFAULT_CONFIG_PATH)

    return FromFile(**overrides)


def config_report(settings: Settings, path: Path | None) -> list[tuple[str, str, str]]:
    """(key, value shown, where it came from) for `coalition-bot config check`; secrets show as set/missing."""
    rows: list[tuple[str, str, str]] = []
    file_keys = _file_keys(path or DEFAULT_CONFIG_PATH)
    for section_name in type(settings).model_fields:
        section = getattr(settings, section_name)
        for key in type(section).model_fields:
            value = getattr(section, key)
            env = f"COALITION_{section_name}_{key}".upper()
            origin = "env" if env in os.environ else "file" if (section_name, key) in file_keys else "default"
            if isinstance(value, SecretStr) or (value is None and key in _SECRETS):
                shown = _redact_url(value.get_secret_value()) if key == "url" and value else (
                    "set" if value else "missing")
            else:
                shown = str(value)
            rows.append((f"{section_name}.{key}", shown, f"{origin} ({env})"))
    return rows


_SECRETS = {"bot_token", "app_token", "signing_secret", "token", "client_secret", "token_key", "pull_key"}


def _file_keys(path: Path) -> set[tuple[str, str]]:
    import tomllib

    if not path.exists():
        return set()
    data = tomllib.loads(path.read_text())
    return {(s, k) for s, table in data.items() if isinstance(table, dict) for k in table}


def _redact_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "set (unparseable URL)"


DESCRIPTIONS = {
    "database.url": "SQLAlchemy URL: sqlite:///path.db or postgresql://user:pw@host/db (a secret: never logged)",
    "database.upgrade_on_start": "run the Alembic migrations when the bot starts",
    "database.start_wait_seconds": "how long `run` retries (with backoff) a database it cannot reach before it "
                                   "gives up with a non-zero exit status",
    "policy.default_tlp": "TLP of a submission that names none (clear, green, amber, amber+strict, red)",
    "policy.default_confidence": "confidence (0-100) of a submission that names none",
    "policy.default_valid_days": "days until a submission expires unless it says valid:...; 0 = never",
    "policy.default_channel_ceiling": "TLP ceiling of channels no admin has registered (clear, green or amber)",
    "policy.auto_approve_confirmations": "approve after N confirmations from N organizations and no false "
                                         "positive; 0 = off",
    "policy.warninglist_action": "warn (store and flag) or block (refuse unless override and a reason)",
    "policy.max_values_per_command": "values in one submission or lookup",
    "policy.page_size": "results per page of search and queue",
    "score.lifetimes": "days an indicator's score takes to decay to 0 after its last sighting or confirmation, by "
                       "type, over OpenCTI's defaults (ipv4, ipv6, cidr, url, email 47; domain, asn, btc 300; hashes "
                       "and cve 460), e.g. `{ ipv4 = 30, domain = 200 }`",
    "score.decay_speed": "MISP's polynomial decay `1 - (t / lifetime)^(1 / decay_speed)`: 0.5 slow at first then "
                         "faster, 1 linear",
    "score.threshold": "the score `/ioc why` says an item reaches on a given day",
    "score.expire_below": "expire an approved indicator once its score falls below this (announced like any "
                          "expiry); empty = off",
    "warninglists.enabled": "flag values on MISP warninglists (public resolvers, RFC 1918, top sites, ...)",
    "warninglists.include": "MISP list names to use; empty = the default subset",
    "warninglists.exclude": "MISP list names to leave out",
    "warninglists.cache_dir": "where the warninglist index is cached once built (default: the user's cache "
                              "directory, e.g. ~/.cache/coalition-bot)",
    "logging.level": "DEBUG, INFO, WARNING or ERROR",
    "logging.json_format": "one JSON object per log line",
    "slack.enabled": "run the Slack adapter in `coalition-bot run`",
    "slack.mode": "socket (Socket Mode, no public URL) or http (signed requests to one endpoint)",
    "slack.bot_token": "xoxb-... bot token (secret)",
    "slack.app_token": "xapp-... app-level token, Socket Mode (secret)",
    "slack.signing_secret": "signing secret, HTTP mode (secret)",
    "slack.api_url": "Web API base URL (GovSlack, Enterprise Grid, tests)",
    "slack.http_host": "HTTP mode: address to listen on",
    "slack.http_port": "HTTP mode: port",
    "slack.http_path": "HTTP mode: the one endpoint for events, commands and interactivity",
    "slack.reaction_confirm": "emoji whose reaction on a card confirms",
    "slack.reaction_false_positive": "emoji whose reaction on a card says false positive",
    "slack.client_id": "OAuth distribution (many workspaces, HTTP mode): the app's client id",
    "slack.client_secret": "OAuth distribution: the app's client secret (secret)",
    "slack.token_key": "OAuth distribution: Fernet key(s) encrypting the stored bot tokens (secret; "
                       "`coalition-bot slack token-key` makes one)",
    "slack.public_url": "OAuth distribution: the public base URL Slack redirects to (https://...)",
    "slack.install_path": "OAuth distribution: the install page (the \"Add to Slack\" button)",
    "slack.redirect_path": "OAuth distribution: the redirect URL's path",
    "slack.authorize_url": "OAuth distribution: Slack's authorize page (GovSlack, tests)",
    "slack.scopes": "OAuth distribution: the bot scopes asked for at install",
    "slack.token_rotation_minutes": "OAuth distribution with token rotation: refresh this long before expiry",
    "discord.enabled": "run the Discord adapter in `coalition-bot run`",
    "discord.token": "bot token (secret)",
    "discord.application_id": "the application's id (slash commands, invite URL)",
    "discord.api_url": "REST base URL (Discord-compatible servers, tests)",
    "discord.gateway_url": "gateway URL; empty = the one the REST API names",
    "discord.guild_ids": "guilds where `coalition-bot discord sync` registers the commands",
    "discord.reaction_confirm": "emoji whose reaction on a card confirms",
    "discord.reaction_false_positive": "emoji whose reaction on a card says false positive",
    "discord.message_content": "use the privileged message-content intent (passive mode in guild channels)",
    "taxii.enabled": "serve TAXII 2.1 in `coalition-bot run`",
    "taxii.host": "address to listen on",
    "taxii.port": "port",
    "taxii.base_path": "discovery path",
    "taxii.api_root": "API root name",
    "taxii.title": "title in discovery",
    "taxii.indicators_collection": "id of the read collection (approved indicators)",
    "taxii.submissions_collection": "id of the write collection (pending submissions)",
    "taxii.submissions_enabled": "accept POSTed submissions",
    "taxii.page_size": "objects per page at most",
    "taxii.max_content_length": "largest POST body, bytes",
    "taxii.feeds_enabled": "serve the blocklists at /feeds/ to organizations' keys",
    "taxii.feed_key_in_query": "also take a blocklist key as ?key= (it then shows in logs and proxies)",
    "taxii.pull_key": "`coalition-bot taxii pull`: the other server's API key (secret), unless --key gives one",
    "delivery.lease_seconds": "a claimed outbox row returns to the queue after this long if its deliverer died",
    "delivery.poll_seconds": "how often deliverers look for rows other processes wrote",
    "delivery.max_attempts": "failures before a row is parked for admins (/ioc admin deliveries)",
    "ops.enabled": "serve /healthz and /metrics in `coalition-bot run`",
    "ops.host": "address to listen on",
    "ops.port": "port",
    "digest.weekly": "post a weekly digest (the stats chart and the week's numbers, counting only what each channel "
                     "may see) in every feed channel",
    "digest.day": "the digest's day of the week (monday ... sunday)",
    "digest.hour": "the digest's hour, UTC (0-23); a digest not written within a day of it is skipped",
}


def reference() -> str:
    """The configuration reference as a Markdown table (README.md carries it; a test keeps them equal)."""
    rows = ["| key | default | environment variable | meaning |", "|---|---|---|---|"]
    for section_name, section_field in Settings.model_fields.items():
        section = section_field.default_factory()  # type: ignore[misc,call-arg]
        for key in type(section).model_fields:
            value = getattr(section, key)
            value = value.get_secret_value() if isinstance(value, SecretStr) else value
            default = "" if value is None else str(getattr(value, "value", value))
            rows.append(f"| `{section_name}.{key}` | `{default}` | `COALITION_{section_name.upper()}_{key.upper()}` "
                        f"| {DESCRIPTIONS[f'{section_name}.{key}']} |")
    return "\n".join(rows)
