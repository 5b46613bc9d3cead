"""Settings: the packaged file matches the code's defaults; a user's file is layered over it with its
own relative paths; env overrides; errors name the key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError, load_config, packaged_config_dir


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for var in list(os.environ):
        if var.startswith(("SUPPORTBOT_", "OPENAI_", "SLACK_", "DISCORD_")):
            monkeypatch.delenv(var)


def test_the_committed_settings_file_states_exactly_the_defaults() -> None:
    data = tomllib.loads((packaged_config_dir() / "settings.toml").read_text())
    assert Settings(**data) == Settings()


def test_every_key_in_the_committed_file_has_a_comment() -> None:
    section = ""
    lines = (packaged_config_dir() / "settings.toml").read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("["):
            section = line
        elif "=" in line and not line.startswith("#") and not section.startswith("[models."):
            # A key is explained by the comment right above it, or shares one with the key above.
            above = lines[i - 1]
            assert above.startswith("#") or "=" in above, f"no comment for {section} {line}"


def test_seeded_prices(monkeypatch: pytest.MonkeyPatch) -> None:
    models = Settings().models
    assert (models["gpt-4"].input_per_1k, models["gpt-4"].output_per_1k) == (0.03, 0.06)
    assert models["gpt-4"].context_window == 8192
    assert (models["gpt-4-turbo"].input_per_1k, models["gpt-4-turbo"].context_window) == (0.01, 128_000)
    assert models["gpt-3.5-turbo"].context_window == 16_385
    assert models["gpt-3.5-turbo-instruct"].input_per_1k == 0.0015
    assert {"gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano"} <= set(models)


def test_env_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "p.md").write_text("prompt")
    path = tmp_path / "s.toml"
    path.write_text('[bot]\nsystem_prompt_file = "p.md"\nname = "Filebot"\n[llm]\nmodel = "gpt-4"\n')
    monkeypatch.setenv("SUPPORTBOT_LLM__MODEL", "gpt-4o")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    config = load_config(path)
    assert config.settings.llm.model == "gpt-4o"
    assert config.settings.bot.name == "Filebot"
    assert config.system_prompt == "prompt"
    assert config.secrets.openai_api_key is not None
    assert "sk-x" not in repr(config)  # secrets never print


def test_supportbot_config_env_chooses_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "system_prompt.md").write_text("p")
    path = tmp_path / "other.toml"
    path.write_text('[bot]\ncompany = "Acme"\n')
    monkeypatch.setenv("SUPPORTBOT_CONFIG", str(path))
    assert load_config().settings.bot.company == "Acme"


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[llm]\ntemperature = 2.5\n", "llm.temperature = 2.5: input should be less than or equal to 2"),
        ("[llm]\ntop_p = -0.1\n", "llm.top_p = -0.1: input should be greater than or equal to 0"),
        ("[llm]\nmax_tokens = 0\n", "llm.max_tokens = 0: input should be greater than or equal to 1"),
        ("[llm]\nunknown = 1\n", "unknown key 'llm.unknown'"),
        ("[nonsense]\nx = 1\n", "unknown key 'nonsense'"),
        ("[llm\n", "cannot read"),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(tmp_path: Path, toml: str, expected: str) -> None:
    (tmp_path / "system_prompt.md").write_text("p")
    path = tmp_path / "s.toml"
    path.write_text(toml)
    with pytest.raises(SettingsError) as err:
        load_config(path)
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_a_user_file_sets_only_what_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        '[llm]\nmodel = "gpt-4o"\n'
        '[models."local"]\ncontext_window = 4096\ninput_per_1k = 0\noutput_per_1k = 0\n'
    )
    config = load_config(path)
    settings = config.settings
    assert settings.llm.model == "gpt-4o"
    assert settings.llm.temperature == 0.3 and settings.llm.max_tokens == 800  # the packaged values
    assert {"local", "gpt-4o", "gpt-4"} <= set(settings.models)  # tables merge key by key
    packaged = packaged_config_dir()
    assert config.system_prompt_path == packaged / "system_prompt.md"  # not set: the packaged prompt
    assert settings.kb.sample_dir == packaged / "sample_kb"
    assert settings.database.path == Path("supportbot.db")  # relative to the working directory
    assert config.system_prompt.startswith("You are {bot_name}")


def test_relative_paths_in_a_user_file_are_relative_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "etc"
    (folder / "help").mkdir(parents=True)
    (folder / "prompt.md").write_text("Mine.")
    path = folder / "s.toml"
    path.write_text(
        '[bot]\nsystem_prompt_file = "prompt.md"\n[kb]\nsample_dir = "help"\n[database]\npath = "x.db"\n'
    )
    monkeypatch.chdir(tmp_path)  # not the file's folder
    config = load_config(path)
    assert config.system_prompt == "Mine." and config.system_prompt_path == folder / "prompt.md"
    assert config.settings.kb.sample_dir == folder / "help"
    assert config.settings.database.path == Path("x.db")


def test_a_copy_of_the_packaged_file_works_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "settings.toml"
    copy.write_text((packaged_config_dir() / "settings.toml").read_text())
    monkeypatch.chdir(tmp_path)
    config = load_config(copy)
    assert config.system_prompt_path == packaged_config_dir() / "system_prompt.md"
    assert config.settings.kb.sample_dir == packaged_config_dir() / "sample_kb"
    assert config.settings == load_config().settings
