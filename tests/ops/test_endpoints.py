"""The stable contract: `supportbot run` with SUPPORTBOT_SERVER__PORT serves /healthz, /readyz and
/metrics in every mode (Slack HTTP, Socket Mode, Discord only), as a real process against the fakes."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import SIGNING_SECRET, FakeSlack, SlackSender, event_callback, message
from tests.ops.running import Running, free_port, json_lines, run_env, supportbot_run

DM = "D0ADA"
USER = "U0ADA"
DISCORD_DM = 7_000_000_000_000_000_001


def slack_env(tmp_path: Path, slack: FakeSlack, openai: FakeOpenAI, **more: str) -> dict[str, str]:
    return run_env(
        tmp_path, openai.base_url, SLACK_BOT_TOKEN=slack.token, SLACK_API_URL=slack.api_url, **more
    )


async def answered_once(bot: Running, platform: str) -> None:
    """One message in, one answer out: the metrics of its whole way."""
    await bot.until_value("supportbot_messages_answered_total", 1, platform=platform)
    samples = await bot.metrics()

    def value(name: str, **labels: str) -> float:
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    assert value("supportbot_messages_received_total", platform=platform) == 1
    assert value("supportbot_messages_failed_total", platform=platform) == 0
    assert value("supportbot_llm_calls_total", outcome="ok") == 1
    assert value("supportbot_llm_time_to_first_token_seconds_count") == 1
    assert value("supportbot_answer_latency_seconds_count", platform=platform) == 1
    assert value("supportbot_llm_tokens_total", model="gpt-4o-mini", kind="prompt") > 0
    assert value("supportbot_llm_tokens_total", model="gpt-4o-mini", kind="completion") > 0
    assert value("supportbot_llm_cost_usd_total", model="gpt-4o-mini") > 0
    assert all(name.startswith("supportbot_") for name, _ in samples)


async def test_slack_http_mode_serves_the_endpoints_on_both_ports_and_readyz_sees_the_database_go(
    tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    ops_port, slack_port = free_port(), free_port()
    env = slack_env(tmp_path, fake_slack, fake_openai, SLACK_SIGNING_SECRET=SIGNING_SECRET)
    async with supportbot_run(env, "--slack-http", "--port", str(slack_port), port=ops_port) as bot:
        await bot.until_ready()
        for port in (ops_port, slack_port):
            assert await bot.get("/healthz", port) == (200, '{"ok": true}')
            assert await bot.ready(port) == (
                200,
                {"ready": True, "checks": {"database": "ok", "slack": "ok"}},
            )
        assert await bot.value("supportbot_messages_received_total", platform="slack") == 0
        sender = SlackSender(f"http://127.0.0.1:{slack_port}/slack/events", SIGNING_SECRET, bot.session)
        assert await sender.event(message("hello over HTTP", channel=DM, ts="1.1", user=USER)) == 200
        await answered_once(bot, "slack")

        async def delivered() -> bool:  # the reply leaves the outbox once Slack accepted it
            return await bot.value("supportbot_outbox_pending_replies") == 0

        await bot.until(delivered, "an empty outbox")
        assert await bot.metrics(slack_port) == await bot.metrics(ops_port)  # one registry, two ports

        (tmp_path / "bot.db").unlink()  # the volume went away under the running bot
        status, body = await bot.ready()
        assert status == 503 and body["checks"]["slack"] == "ok"
        assert "deleted or replaced" in body["checks"]["database"]
    json_lines(bot.log)


async def test_socket_mode_serves_the_endpoints_and_readyz_sees_slack_go(
    tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    env = slack_env(tmp_path, fake_slack, fake_openai, SLACK_APP_TOKEN=fake_slack.app_token)
    async with supportbot_run(env, port=free_port()) as bot:
        await bot.until_ready()
        assert (await bot.get("/healthz"))[0] == 200
        event = event_callback(message("hello over the socket", channel=DM, ts="2.1", user=USER), "Ev2")
        await fake_slack.socket_send("events_api", event)
        await answered_once(bot, "slack")

        fake_slack.fail_next("apps.connections.open", "invalid_auth", times=1000)  # no way back in
        await fake_slack.drop_sockets()

        async def slack_down() -> dict[str, str] | None:
            status, body = await bot.ready()
            return body["checks"] if status == 503 else None

        checks = await bot.until(slack_down, "/readyz to say 503")
        assert checks == {"database": "ok", "slack": "not connected"}
    json_lines(bot.log)


async def test_discord_only_serves_the_endpoints_counts_duplicates_and_readyz_sees_discord_go(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    env = run_env(
        tmp_path,
        fake_openai.base_url,
        DISCORD_BOT_TOKEN=fake_discord.token,
        DISCORD_API_URL=fake_discord.api_url,
        DISCORD_GATEWAY_URL=fake_discord.gateway_url,
    )
    async with supportbot_run(env, "--discord", port=free_port()) as bot:
        await bot.until_ready()
        assert await bot.ready() == (200, {"ready": True, "checks": {"database": "ok", "discord": "ok"}})
        payload = fake_discord.dm_message("hello over the gateway", channel_id=DISCORD_DM)
        await fake_discord.dispatch("MESSAGE_CREATE", payload)
        await answered_once(bot, "discord")
        await fake_discord.dispatch("MESSAGE_CREATE", payload)  # delivered again
        await bot.until_value("supportbot_duplicates_dropped_total", 1, platform="discord")
        assert await bot.value("supportbot_messages_received_total", platform="discord") == 2
        assert await bot.value("supportbot_messages_answered_total", platform="discord") == 1

        fake_openai.fail_next("401")  # the next answer fails: an apology, logged for its conversation
        await fake_discord.dispatch(
            "MESSAGE_CREATE", fake_discord.dm_message("again?", channel_id=DISCORD_DM)
        )
        await bot.until_value("supportbot_messages_failed_total", 1, platform="discord")
        assert await bot.value("supportbot_llm_calls_total", outcome="auth") == 1

        fake_discord.gateway_down = True  # an outage: discord.py keeps trying to reconnect
        await fake_discord.disconnect_all(4000, "Unknown error.")

        async def discord_down() -> dict[str, str] | None:
            status, body = await bot.ready()
            return body["checks"] if status == 503 else None

        assert await bot.until(discord_down, "/readyz to say 503") == {
            "database": "ok",
            "discord": "not connected",
        }
    records = json_lines(bot.log)
    assert fake_discord.token not in "\n".join(bot.log)
    starting = [r for r in records if r["message"].startswith("supportbot ") and "starting" in r["message"]]
    assert starting and starting[0]["level"] == "INFO"
    dropped = [r for r in records if "duplicate delivery" in r["message"]]
    assert dropped and dropped[0]["message_id"] == payload["id"] and dropped[0]["platform"] == "discord"
    [failed] = [r for r in records if r["message"].startswith("LLM call for message")]
    assert failed["conversation_id"] == 1 and failed["level"] == "WARNING"
    assert "conversation_id" not in starting[0]  # set only while a message is handled
