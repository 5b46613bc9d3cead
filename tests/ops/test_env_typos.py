"""Every SUPPORTBOT_* variable must name a setting: a typo stops the command, naming the closest key."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_config, packaged_config_dir
from tests.cli.test_cli import cli_env, run_cli


def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SUPPORTBOT_* (or secret) variable of the machine running the tests."""
    for var in list(os.environ):
        if var.upper().startswith(("SUPPORTBOT_", "OPENAI_", "SLACK_", "DISCORD_")):
            monkeypatch.delenv(var)


@pytest.mark.parametrize(
    ("variable", "closest"),
    [
        ("SUPPORTBOT_LLM_MODEL", "SUPPORTBOT_LLM__MODEL"),  # one underscore
        ("SUPPORTBOT_SERVER__PROT", "SUPPORTBOT_SERVER__PORT"),
        ("SUPPORTBOT_LOG_FORMAT", "SUPPORTBOT_LOG__FORMAT"),
        ("SUPPORTBOT_DATABASE__RETENTION", "SUPPORTBOT_DATABASE__RETENTION_DAYS"),
        ("supportbot_kb__embedings__enabled", "SUPPORTBOT_KB__EMBEDDINGS__ENABLED"),
    ],
)
def test_a_typo_names_the_closest_key(monkeypatch: pytest.MonkeyPatch, variable: str, closest: str) -> None:
    clean_env(monkeypatch)
    monkeypatch.setenv(variable, "1")
    with pytest.raises(SettingsError) as raised:
        load_config()
    assert f"the environment variable {variable} names no setting; the closest is {closest}" in str(
        raised.value
    )


def test_a_variable_naming_no_section_still_gets_the_closest_key(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_env(monkeypatch)
    monkeypatch.setenv("SUPPORTBOT_FOO__BAR", "1")
    with pytest.raises(
        SettingsError, match=r"SUPPORTBOT_FOO__BAR names no setting; the closest is SUPPORTBOT_\w+"
    ):
        load_config()


def test_every_key_of_the_packaged_file_can_be_set_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The known names come from the settings models, so every key in settings.toml is one of them
    (as are whole sections as JSON, SUPPORTBOT_CONFIG, and user-named [models."NAME"] entries)."""
    clean_env(monkeypatch)
    data = tomllib.loads((packaged_config_dir() / "settings.toml").read_text())
    for section, table in data.items():
        if section == "models":
            continue
        for key, value in table.items():
            if not isinstance(value, dict):
                monkeypatch.setenv(f"SUPPORTBOT_{section}__{key}".upper(), _env_text(value))
    for key, value in (("CONTEXT_WINDOW", "4096"), ("INPUT_PER_1K", "0.1"), ("OUTPUT_PER_1K", "0.2")):
        monkeypatch.setenv(f"SUPPORTBOT_MODELS__MY_MODEL__{key}", value)  # a model of one's own
    monkeypatch.setenv("SUPPORTBOT_ESCALATION__HOURS__TIMEZONE", "UTC")  # a nested section's key
    monkeypatch.setenv("SUPPORTBOT_LLM", '{"model": "gpt-4o"}')  # a whole section as JSON
    settings = load_config().settings
    assert settings.models["my_model"].context_window == 4096


def _env_text(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(f'"{v}"' for v in value) + "]"
    return str(value)


async def test_supportbot_run_with_a_typo_stops_in_one_line(tmp_path: Path) -> None:
    env = cli_env(tmp_path, None) | {"SUPPORTBOT_LLM_MODEL": "gpt-4o"}
    code, out, err = await run_cli("run", env=env)
    assert code == 2 and out == ""
    assert err == (
        "supportbot: settings: the environment variable SUPPORTBOT_LLM_MODEL names no setting; the"
        " closest is SUPPORTBOT_LLM__MODEL (the form is SUPPORTBOT_<SECTION>__<KEY>)\n"
    )
