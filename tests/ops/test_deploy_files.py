"""The deployment files say what CI tests: the Dockerfile installs the wheel with .ci/run's own
commands and starts `supportbot run`, whose /healthz its HEALTHCHECK reaches; compose, the systemd
unit, .env.example and LICENSE hold what the README promises. (No Docker engine runs here.)"""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
from pathlib import Path

from bot.settings import Secrets, check_env
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.ops.running import free_port, run_env, supportbot_run

REPO = Path(__file__).resolve().parents[2]
VENV_PYTHON = (
    ".venv/bin/python"  # CI builds the wheel with its dev venv's interpreter, the image with its own
)


def instructions(path: Path) -> list[tuple[str, str]]:
    """The Dockerfile's instructions (continued lines joined, comments dropped) as (NAME, arguments)."""
    joined: list[str] = []
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        if joined and joined[-1].endswith("\\"):
            joined[-1] = joined[-1][:-1].rstrip() + " " + line.strip()
        else:
            joined.append(line.strip())
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in joined]


def install_commands() -> list[str]:
    """The Dockerfile's commands that build, set up or install into the venv (each part of a RUN's &&)."""
    runs = [args for name, args in instructions(REPO / "Dockerfile") if name == "RUN"]
    parts = [part.strip() for args in runs for part in args.split("&&")]
    return [part for part in parts if " pip " in part or " -m venv " in part]


def ci_lines() -> list[str]:
    return [
        line.strip().replace(VENV_PYTHON, "python") for line in (REPO / ".ci/run").read_text().splitlines()
    ]


def test_the_dockerfile_builds_and_installs_the_wheel_with_the_commands_ci_runs() -> None:
    commands = install_commands()
    assert len(commands) == 3, commands  # build the wheel, make the venv, install the wheel into it
    assert all(command in ci_lines() for command in commands), (commands, ci_lines())
    assert '"$venv/bin/supportbot" check >/dev/null' in "\n".join(ci_lines())  # CI then uses that venv


def test_the_image_runs_supportbot_run_as_a_non_root_user_from_that_venv() -> None:
    found = instructions(REPO / "Dockerfile")
    cmd = [json.loads(args) for name, args in found if name == "CMD"]
    assert cmd[-1] == ["supportbot", "run"]
    args = dict((name, args) for name, args in found if name in ("USER", "ARG"))
    assert args["USER"] == "supportbot"
    env = dockerfile_env()
    venv = [a for name, a in found if name == "ARG" and a.startswith("venv=")][-1].removeprefix("venv=")
    assert env["PATH"].startswith(f"{venv}/bin:")  # `supportbot` is the installed wheel's
    assert env["SUPPORTBOT_SERVER__PORT"] and env["SUPPORTBOT_SERVER__HOST"] == "0.0.0.0"


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for name, args in instructions(REPO / "Dockerfile"):
        if name == "ENV":
            env |= dict(pair.split("=", 1) for pair in shlex.split(args))
    return env


def healthcheck() -> list[str]:
    [args] = [args for name, args in instructions(REPO / "Dockerfile") if name == "HEALTHCHECK"]
    command = json.loads(args.split(" CMD ", 1)[1])
    assert isinstance(command, list) and command[0] == "python"
    return [sys.executable, *command[1:]]


async def probe(env: dict[str, str]) -> int:
    proc = await asyncio.create_subprocess_exec(
        *healthcheck(), env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    return await asyncio.wait_for(proc.wait(), 30)


async def test_the_healthcheck_passes_against_the_started_command_and_fails_once_it_stops(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    """The image's ENV (but a free port and a database in tmp), `supportbot run`, then its HEALTHCHECK."""
    port = free_port()
    image_env = dockerfile_env() | {"SUPPORTBOT_SERVER__PORT": str(port)}
    image_env.pop("PATH")
    image_env.pop("SUPPORTBOT_DATABASE__PATH")
    env = (
        run_env(
            tmp_path,
            fake_openai.base_url,
            DISCORD_BOT_TOKEN=fake_discord.token,
            DISCORD_API_URL=fake_discord.api_url,
            DISCORD_GATEWAY_URL=fake_discord.gateway_url,
        )
        | image_env
    )
    async with supportbot_run(env, port=port) as bot:

        async def healthy() -> bool:
            return await probe(env) == 0

        await bot.until(healthy, "the HEALTHCHECK to pass")
    assert await probe(env) != 0  # nothing answers once the bot has stopped


def test_compose_runs_the_image_with_postgres_on_a_volume() -> None:
    text = (REPO / "compose.yaml").read_text()
    for expected in (
        "  bot:\n    build: .",
        "  postgres:\n    image: postgres:",
        "SUPPORTBOT_DATABASE__URL: postgresql://supportbot:",
        "@postgres:5432/supportbot",
        "condition: service_healthy",
        "- postgres-data:/var/lib/postgresql/data",
        "- supportbot-data:/var/lib/supportbot",
        "env_file: .env",
    ):
        assert expected in text, expected
    assert "SQLite instead" in text  # the variant without Postgres is documented


def test_the_systemd_unit_restarts_on_failure_and_stops_with_sigterm() -> None:
    lines = set((REPO / "deploy/supportbot.service").read_text().splitlines())
    assert {
        "ExecStart=/opt/supportbot/bin/supportbot run",
        "Restart=on-failure",
        "KillSignal=SIGTERM",
    } <= lines
    assert "User=supportbot" in lines and "EnvironmentFile=/etc/supportbot/supportbot.env" in lines


def test_env_example_names_every_secret_and_only_real_settings() -> None:
    text = (REPO / ".env.example").read_text()
    names = {
        line.lstrip("# ").split("=", 1)[0]
        for line in text.splitlines()
        if "=" in line.lstrip("# ").split(" ")[0]
    }
    check_env({name: "x" for name in names})  # every SUPPORTBOT_* example names a setting
    for secret in (
        "OPENAI_API_KEY",
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "DISCORD_BOT_TOKEN",
    ):
        assert secret in names and secret.lower() in Secrets.model_fields


def test_the_license_is_the_apache_license_pyproject_names() -> None:
    text = (REPO / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert 'license = { text = "Apache-2.0" }' in (REPO / "pyproject.toml").read_text()
