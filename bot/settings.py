"""Settings: packaged defaults, a user's TOML file layered over them, then SUPPORTBOT_<SECTION>__<KEY>.

The defaults ship as package data (`config/` in the source tree, the package `bot.defaults` once
installed). A user's file sets only what it changes: its tables are merged key by key over the
defaults, and each file's relative paths are relative to that file's folder (`database.path` to
the working directory). Secrets never live here: they are read from their standard environment
variables by `Secrets`. Every problem is one `SettingsError` line naming the key and what is allowed.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterator, Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.kb.settings import KBSettings

ENV_PREFIX = "SUPPORTBOT_"
CONFIG_ENV = "SUPPORTBOT_CONFIG"
DEFAULTS_PACKAGE = "bot.defaults"  # config/ in the source tree (pyproject.toml maps it)
# Path-valued keys relative to the working directory rather than to their settings file.
CWD_RELATIVE = frozenset({("database", "path")})


class SettingsError(Exception):
    """A bad setting: the message is one line, fit to show a user as is."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelInfo(_Section):
    """What a model can hold and what it costs, for trimming history and billing."""

    context_window: int = Field(ge=1)
    input_per_1k: float = Field(ge=0)  # USD per 1,000 prompt tokens
    output_per_1k: float = Field(ge=0)  # USD per 1,000 completion tokens


def _default_models() -> dict[str, ModelInfo]:
    table = {
        "gpt-4": (8_192, 0.03, 0.06),
        "gpt-4-32k": (32_768, 0.06, 0.12),
        "gpt-4-turbo": (128_000, 0.01, 0.03),
        "gpt-3.5-turbo": (16_385, 0.0010, 0.0020),
        "gpt-3.5-turbo-instruct": (4_096, 0.0015, 0.0020),
        "gpt-4o": (128_000, 0.0025, 0.01),
        "gpt-4o-mini": (128_000, 0.00015, 0.0006),
        "gpt-4.1": (1_047_576, 0.002, 0.008),
        "gpt-4.1-mini": (1_047_576, 0.0004, 0.0016),
        "gpt-4.1-nano": (1_047_576, 0.0001, 0.0004),
    }
    return {
        name: ModelInfo(context_window=cw, input_per_1k=i, output_per_1k=o)
        for name, (cw, i, o) in table.items()
    }


class LLMSettings(_Section):
    model: str = Field("gpt-4o-mini", min_length=1)
    temperature: float = Field(0.3, ge=0, le=2)
    top_p: float = Field(1.0, ge=0, le=1)
    max_tokens: int = Field(800, ge=1)
    stop: list[str] = Field(default_factory=list, max_length=4)
    timeout_s: float = Field(60.0, gt=0)
    max_retries: int = Field(2, ge=0, le=10)
    answer_deadline_s: float = Field(25.0, gt=0)  # one answer's whole model call, retries included
    context_margin: int = Field(256, ge=0)  # tokens kept free for the framing of each message
    history_limit: int = Field(50, ge=1)  # most messages read back per answer, before trimming
    encoding: str = "auto"  # tiktoken encoding; "auto" = the model's own, else the bundled cl100k
    default_context_window: int = Field(8_192, ge=256)  # for models missing from [models]
    escalation_tool: bool = True  # offer the model the escalate_to_human tool (off for servers without tools)
    daily_budget_usd: float = Field(0.0, ge=0)  # 0 = no cap; past it, answers come from the KB alone


class BotSettings(_Section):
    name: str = Field("Supportbot", min_length=1)
    company: str = Field("Example Co", min_length=1)
    system_prompt_file: Path = Path("system_prompt.md")  # relative to the file setting it (default: packaged)
    recover_minutes: int = Field(30, ge=0)  # on start, answer messages this recent left unanswered
    small_talk: bool = True  # "hi", "thanks", "ok" get a short reply of their own (no search, no model)


class LimitSettings(_Section):
    """What one user may ask of the bot; over a limit they get a polite notice and no model call."""

    user_messages_per_minute: int = Field(20, ge=0)  # per user, all instances together; 0 = no limit
    max_message_chars: int = Field(8000, ge=100)  # longer messages are refused with a request to shorten
    user_daily_usd: float = Field(0.0, ge=0)  # one user's model cost per UTC day; 0 = no cap
    daily_tokens: int = Field(2_000_000, ge=0)  # all answers' tokens per UTC day, for a model without a price


class ModerationSettings(_Section):
    """Optional check of each message at the OpenAI-compatible /v1/moderations endpoint, before the model."""

    enabled: bool = False
    model: str = Field("omni-moderation-latest", min_length=1)
    timeout_s: float = Field(5.0, gt=0)  # the whole check, the SDK's retries included
    on_error: Literal["allow", "refuse"] = "allow"  # when the endpoint fails or times out


class PrivacySettings(_Section):
    """Where personal data (emails, phone numbers, card numbers, IBANs) is replaced by a label."""

    redact: Literal["off", "logs", "logs+llm", "all"] = "logs"  # all = logs, model requests and the database
    phone_region: str = Field("US", pattern=r"^([A-Za-z]{2})?$")  # how national phone numbers are read

    def applies_to(self, place: Literal["logs", "llm", "database"]) -> bool:
        order = {"off": 0, "logs": 1, "logs+llm": 2, "all": 3}
        return order[self.redact] >= {"logs": 1, "llm": 2, "database": 3}[place]


class DatabaseSettings(_Section):
    path: Path = Path("supportbot.db")  # relative to the working directory
    # postgresql://user@host:5432/db: conversations live in Postgres (several instances may share
    # it) and `path` holds only this instance's knowledge-base index. "" = SQLite at `path`.
    url: str = ""
    pool_size: int = Field(10, ge=2, le=200)  # Postgres connections for store work, per instance
    lock_pool_size: int = Field(20, ge=2, le=500)  # Postgres connections holding conversation locks
    retention_days: int = Field(0, ge=0)  # delete conversations inactive this long; 0 = keep them

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must start with postgresql:// (or be empty for SQLite at database.path)")
        return value

    @property
    def postgres(self) -> bool:
        return bool(self.url)


class AnalyticsSettings(_Section):
    # A conversation with no user message for this long after its last answer (no 👎, no
    # escalation) counts as resolved, "assumed"; 0 = as soon as the answer is in.
    assume_resolved_hours: float = Field(24.0, ge=0)


class ServerSettings(_Section):
    """The ops HTTP server of `supportbot run`: /healthz, /readyz and /metrics (bot/ops/)."""

    host: str = "127.0.0.1"  # 0.0.0.0 in a container, so the orchestrator's probes reach it
    port: int = Field(0, ge=0, le=65535)  # 0 = none of its own (Slack HTTP mode serves the paths anyway)


class LogSettings(_Section):
    """What the log looks like (secrets and, per privacy.redact, personal data never appear in it)."""

    format: Literal["text", "json"] = "text"  # json: one object per line, for log collectors


class SlackSettings(_Section):
    """Slack adapter; tokens come from SLACK_BOT_TOKEN / SLACK_APP_TOKEN / SLACK_SIGNING_SECRET."""

    api_url: str = "https://slack.com/api/"  # Web API base; env SLACK_API_URL wins (GovSlack, tests)
    follow_threads: bool = True  # answer later messages in a thread the bot is in (channels:history)
    stream: Literal["auto", "native", "edits"] = "auto"  # chat streaming API, or throttled chat.update
    edit_interval_s: float = Field(1.0, ge=0.2)  # at most one chat.update per message per interval
    max_interim_chars: int = Field(3500, ge=500, le=3900)  # longer answers continue in new messages
    http_host: str = "127.0.0.1"  # HTTP Events API mode: where `supportbot run --slack-http` listens
    http_port: int = Field(3000, ge=1, le=65535)


class DiscordSettings(_Section):
    """Discord adapter; the token comes from DISCORD_BOT_TOKEN."""

    api_url: str = "https://discord.com/api/v10"  # REST base; env DISCORD_API_URL wins
    gateway_url: str = ""  # "" = Discord's own; env DISCORD_GATEWAY_URL wins (REST proxies, tests)
    mention_mode: Literal["thread", "reply"] = "thread"  # answer a guild mention in a new thread or inline
    message_content_intent: bool = False  # privileged: lets the bot read un-mentioned thread messages
    guild_ids: list[str] = Field(default_factory=list)  # allowed guilds ([] = any); commands sync here
    edit_interval_s: float = Field(1.0, ge=0.2)  # at most one edit per message per interval
    # Sharding (Discord requires it from 2,500 servers): shard_count = 0 is one gateway connection;
    # N splits the servers over N shards, of which this process runs shard_ids ([] = all). DMs
    # arrive on shard 0 only, which one process on the database may run at a time.
    shard_count: int = Field(0, ge=0, le=4096)
    shard_ids: list[int] = Field(default_factory=list)

    @model_validator(mode="after")
    def _shards_in_range(self) -> DiscordSettings:
        if self.shard_ids and not self.shard_count:
            raise ValueError("discord.shard_ids needs discord.shard_count (how many shards in all)")
        outside = [i for i in self.shard_ids if not 0 <= i < self.shard_count]
        if outside:
            raise ValueError(
                f"discord.shard_ids: {outside[0]} is not one of the {self.shard_count} shards"
                f" (0 to {self.shard_count - 1})"
            )
        if len(set(self.shard_ids)) != len(self.shard_ids):
            raise ValueError("discord.shard_ids lists a shard twice")
        return self

    def shards(self) -> list[int]:
        """The shards this process runs ([] with no sharding: one connection, which gets everything)."""
        return sorted(self.shard_ids) or list(range(self.shard_count))


class StaffChannel(_Section):
    """Where handoff cards go; conversations from either platform can be routed to either."""

    platform: Literal["", "slack", "discord"] = ""  # "" = no staff channel configured
    channel: str = ""  # Slack channel id (C…) or Discord channel id


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _weekdays() -> list[Weekday]:
    return ["mon", "tue", "wed", "thu", "fri"]


class BusinessHours(_Section):
    """When staff answer; outside them the user is told when to expect a reply."""

    timezone: str = "UTC"  # IANA name, e.g. "Europe/Berlin"
    days: list[Weekday] = Field(default_factory=_weekdays)
    start: str = Field("09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field("17:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
    response_time: str = "within an hour"  # what users are told during business hours
    out_of_hours_response: str = "on the next business day"  # … and outside them

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)") from None
        return value


class EscalationSettings(_Section):
    staff_channel: StaffChannel = Field(default_factory=StaffChannel)
    hours: BusinessHours = Field(default_factory=BusinessHours)
    reminder_minutes: int = Field(15, ge=0)  # one reminder for an escalation unclaimed this long; 0 = off
    summary_messages: int = Field(20, ge=1, le=200)  # latest messages the staff summary is written from
    staff_user_ids: list[str] = Field(default_factory=list)  # Slack (U…) or Discord user ids
    staff_role_ids: list[str] = Field(default_factory=list)  # Discord role ids
    staff_group_id: str = ""  # Slack user group (S…): mentioned on handoff cards, its members are staff
    keywords: list[str] = Field(default_factory=list)  # phrases that escalate, e.g. "talk to a human"


class Settings(BaseSettings):
    """All non-secret settings; see config/settings.toml for every key with a comment."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    llm: LLMSettings = Field(default_factory=LLMSettings)
    bot: BotSettings = Field(default_factory=BotSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    moderation: ModerationSettings = Field(default_factory=ModerationSettings)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    kb: KBSettings = Field(default_factory=KBSettings)
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    models: dict[str, ModelInfo] = Field(default_factory=_default_models)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives as init values; the environment overrides it.
        return env_settings, init_settings

    def model_info(self) -> ModelInfo | None:
        return self.models.get(self.llm.model)

    def context_window(self) -> int:
        info = self.model_info()
        return info.context_window if info else self.llm.default_context_window


class Secrets(BaseSettings):
    """Credentials, only ever from their standard environment variables."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None  # Socket Mode
    slack_signing_secret: SecretStr | None = None  # HTTP Events API mode
    slack_api_url: str | None = None
    discord_bot_token: SecretStr | None = None
    discord_api_url: str | None = None
    discord_gateway_url: str | None = None


class LoadedConfig(BaseModel):
    """Settings plus where they came from and the resolved paths the app needs."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    settings: Settings
    secrets: Secrets
    config_file: Path | None  # the user's file, layered over the packaged defaults; None = defaults only
    defaults_dir: Path  # the packaged config folder
    system_prompt_path: Path
    system_prompt: str

    @property
    def base_dir(self) -> Path:
        """Where relative paths set from the environment point from: the settings file's folder."""
        return self.config_file.parent if self.config_file is not None else self.defaults_dir


def packaged_config_dir() -> Path:
    """The folder of the packaged defaults (settings.toml, system_prompt.md, sample_kb/, …)."""
    root = files(DEFAULTS_PACKAGE)
    if not isinstance(root, Path):  # e.g. imported from a zip: the sample KB needs real files
        raise SettingsError(f"settings: the packaged defaults ({DEFAULTS_PACKAGE}) are not plain files")
    return root


def _config_path(explicit: Path | None) -> Path | None:
    if explicit is not None:
        return explicit
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    return None


def _path_keys(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every path-valued key of `model`'s sections, with its default."""
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            yield from _path_keys(kind, (*prefix, name))
        elif kind is Path or Path in get_args(kind):
            yield (*prefix, name), field.default


def _relative_keys() -> Iterator[tuple[tuple[str, ...], Any]]:
    return ((key, default) for key, default in _path_keys(Settings) if key not in CWD_RELATIVE)


def _section(data: dict[str, Any], key: tuple[str, ...]) -> dict[str, Any] | None:
    """The table holding `key`'s last part, or None when the data has no such table."""
    for part in key[:-1]:
        data = data.get(part)  # type: ignore[assignment]
        if not isinstance(data, dict):
            return None
    return data


def _anchor(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Make the file's relative path values absolute, relative to `folder` (the file's own)."""
    for key, _ in _relative_keys():
        table = _section(data, key)
        value = table.get(key[-1]) if table is not None else None
        if table is not None and isinstance(value, str) and not Path(value).is_absolute():
            table[key[-1]] = str(folder / value)
    return data


def _packaged_paths(folder: Path) -> dict[str, Any]:
    """The code's relative path defaults (system prompt, sample KB) made absolute in `folder`."""
    data: dict[str, Any] = {}
    for key, default in _relative_keys():
        if isinstance(default, Path) and not default.is_absolute():
            table = data
            for part in key[:-1]:
                table = table.setdefault(part, {})
            table[key[-1]] = str(folder / default)
    return data


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` layered on `base`: tables merged key by key, any other value replaced."""
    merged = dict(base)
    for key, value in over.items():
        below = merged.get(key)
        merged[key] = _merge(below, value) if isinstance(value, dict) and isinstance(below, dict) else value
    return merged


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return _anchor(tomllib.loads(path.read_text(encoding="utf-8")), path.parent)
    except FileNotFoundError:
        raise SettingsError(f"settings: config file not found: {path}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"settings: cannot read {path}: {exc}") from None


def _layers(defaults: Path, config_file: Path | None) -> dict[str, Any]:
    """Code path defaults < the packaged settings.toml < the user's file (env comes on top)."""
    data = _merge(_packaged_paths(defaults), _read_toml(defaults / "settings.toml"))
    return _merge(data, _read_toml(config_file)) if config_file is not None else data


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The settings section a field holds (its annotation, or the model inside an Optional)."""
    for kind in (annotation, *get_args(annotation)):
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            return kind
    return None


def _env_names(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, bool]]:
    """Every environment name that sets a key of `model` (a section too, as JSON), with whether
    names below it are open-ended (a table of user-named entries, such as [models."NAME"])."""
    for name, field in model.model_fields.items():
        env = f"{prefix}{name.upper()}"
        open_table = get_origin(field.annotation) is dict
        section = None if open_table else _model_of(field.annotation)
        yield env, open_table
        if section is not None:
            yield from _env_names(section, f"{env}__")


def check_env(environ: Mapping[str, str]) -> None:
    """Every SUPPORTBOT_* variable must name a setting (derived from the models, so a new setting
    is known at once); a typo is a SettingsError naming the closest key."""
    names = dict(_env_names(Settings, ENV_PREFIX))
    known = {*names, CONFIG_ENV}
    open_tables = tuple(f"{name}__" for name, is_open in names.items() if is_open)
    for var in sorted(environ):
        upper = var.upper()  # pydantic-settings reads the environment case-insensitively
        if not upper.startswith(ENV_PREFIX) or upper in known or upper.startswith(open_tables):
            continue
        # Compared without the prefix every name shares, so the part that differs decides.
        keys = {name.removeprefix(ENV_PREFIX): name for name in sorted(known)}
        close = difflib.get_close_matches(upper.removeprefix(ENV_PREFIX), keys, n=1, cutoff=0.0)
        hint = f"the closest is {keys[close[0]]}" if close else "see the packaged settings.toml"
        raise SettingsError(
            f"settings: the environment variable {var} names no setting; {hint}"
            f" (the form is {ENV_PREFIX}<SECTION>__<KEY>)"
        )


def _describe(error: ValidationError, config_file: Path | None) -> str:
    first = error.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    where = f" (in {config_file} or env SUPPORTBOT_{key.upper().replace('.', '__')})"
    if first["type"] == "extra_forbidden":
        return f"settings: unknown key '{key}'{where}"
    value = first.get("input")
    # A database URL may carry a password: never echo it.
    shown = "" if isinstance(value, dict) or key == "database.url" else f" = {value!r}"
    return f"settings: {key}{shown}: {first['msg'].lower()}{where}"


def load_config(explicit: Path | None = None) -> LoadedConfig:
    """Layer the user's settings file (if any) over the packaged defaults, apply env overrides,
    validate, and read the system prompt."""
    check_env(os.environ)
    config_file = _config_path(explicit)
    defaults = packaged_config_dir()
    data = _layers(defaults, config_file)
    try:
        settings = Settings(**data)
        secrets = Secrets()
    except ValidationError as exc:
        raise SettingsError(_describe(exc, config_file or defaults / "settings.toml")) from None
    base = config_file.parent if config_file is not None else defaults
    prompt_path = settings.bot.system_prompt_file
    if not prompt_path.is_absolute():
        prompt_path = base / prompt_path
    try:
        prompt = prompt_path.read_text(encoding="utf-8")
    except OSError:
        raise SettingsError(
            f"settings: bot.system_prompt_file: file not found: {prompt_path}"
            " (set it to an existing Markdown or text file)"
        ) from None
    return LoadedConfig(
        settings=settings,
        secrets=secrets,
        config_file=config_file,
        defaults_dir=defaults,
        system_prompt_path=prompt_path,
        system_prompt=prompt,
    )
