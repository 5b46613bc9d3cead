"""Settings: committed defaults, an optional TOML file, then SUPPORTBOT_<SECTION>__<KEY> env overrides.

Secrets never live here: they are read from their standard environment variables by `Secrets`.
Every problem is reported as one `SettingsError` line naming the key and what is allowed.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.kb.settings import KBSettings

CONFIG_ENV = "SUPPORTBOT_CONFIG"
# config/ beside the packages in a source checkout (`pip install -e .`).
DEFAULT_CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"


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
    context_margin: int = Field(256, ge=0)  # tokens kept free for the framing of each message
    history_limit: int = Field(50, ge=1)  # most messages read back per answer, before trimming
    encoding: str = "auto"  # tiktoken encoding; "auto" = the model's own, else the bundled cl100k
    default_context_window: int = Field(8_192, ge=256)  # for models missing from [models]
    escalation_tool: bool = True  # offer the model the escalate_to_human tool (off for servers without tools)
    daily_budget_usd: float = Field(0.0, ge=0)  # 0 = no cap; past it, answers come from the KB alone


class BotSettings(_Section):
    name: str = Field("Supportbot", min_length=1)
    company: str = Field("Example Co", min_length=1)
    system_prompt_file: Path = Path("system_prompt.md")  # relative to the settings file's folder
    recover_minutes: int = Field(30, ge=0)  # on start, answer messages this recent left unanswered


class DatabaseSettings(_Section):
    path: Path = Path("supportbot.db")  # relative to the working directory


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
        env_prefix="SUPPORTBOT_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    llm: LLMSettings = Field(default_factory=LLMSettings)
    bot: BotSettings = Field(default_factory=BotSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    kb: KBSettings = Field(default_factory=KBSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
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
    config_file: Path | None
    system_prompt_path: Path
    system_prompt: str

    @property
    def base_dir(self) -> Path:
        """Where relative paths in the settings file point from (the KB's sample_dir, …)."""
        return self.config_file.parent if self.config_file is not None else Path.cwd()


def _config_path(explicit: Path | None) -> Path | None:
    if explicit is not None:
        return explicit
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    default = DEFAULT_CONFIG_DIR / "settings.toml"
    return default if default.is_file() else None


def _describe(error: ValidationError, config_file: Path | None) -> str:
    first = error.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    where = f" (in {config_file} or env SUPPORTBOT_{key.upper().replace('.', '__')})"
    if first["type"] == "extra_forbidden":
        return f"settings: unknown key '{key}'{where}"
    value = first.get("input")
    shown = "" if isinstance(value, dict) else f" = {value!r}"
    return f"settings: {key}{shown}: {first['msg'].lower()}{where}"


def load_config(explicit: Path | None = None) -> LoadedConfig:
    """Read the settings file (if any), apply env overrides, validate, and read the system prompt."""
    config_file = _config_path(explicit)
    data: dict[str, Any] = {}
    if config_file is not None:
        try:
            data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"settings: config file not found: {config_file}") from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"settings: cannot read {config_file}: {exc}") from None
    try:
        settings = Settings(**data)
        secrets = Secrets()
    except ValidationError as exc:
        raise SettingsError(_describe(exc, config_file)) from None
    base = config_file.parent if config_file is not None else Path.cwd()
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
        system_prompt_path=prompt_path,
        system_prompt=prompt,
    )
