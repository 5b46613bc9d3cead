"""The floor: the least a bot must do for the same answer, on the same platform libraries and SDK path.

Slack: an aiohttp endpoint that checks the signature on the raw body, acks, makes the bot's model
request and posts the answer with its buttons in one chat.postMessage. Discord: a discord.py client
that answers a DM with one message carrying a button. Both send the request body the bot sent
(captured from the fake OpenAI), through `read_answer`: the same openai SDK call and the same way
of reading the stream as bot/llm/client.py, so the difference is everything else the bot does
(storage, history, retrieval, sign, streaming to the platform, buttons bound to the reply).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import discord
import openai
from aiohttp import web
from openai.types.chat import ChatCompletion
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.llm.client import RAW_RESPONSE_HEADER, sse_data


async def read_answer(client: openai.AsyncOpenAI, body: dict[str, Any]) -> str:
    """The model's answer for `body`, requested and read as bot/llm/client.py does: the SDK's raw
    streaming response, its server-sent events split by the bot's own `sse_data`, each chunk one
    `json.loads` (the bot also gathers tool calls and usage; no tools are offered here)."""
    response = cast(
        "openai.AsyncAPIResponse[ChatCompletion]",
        await client.post(
            "/chat/completions",
            body=body,
            cast_to=ChatCompletion,
            options={"security": {"bearer_auth": True}, "headers": {RAW_RESPONSE_HEADER: "stream"}},
            stream=True,
            stream_cls=openai.AsyncStream[Any],
        ),
    )
    parts: list[str] = []
    try:
        async for data in sse_data(response.http_response.aiter_bytes()):
            if data is None:
                continue
            for choice in json.loads(data).get("choices") or ():
                if content := (choice.get("delta") or {}).get("content"):
                    parts.append(content)
    finally:
        await response.close()
    return "".join(parts)


def _plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def _buttons() -> list[dict[str, Any]]:
    """👍, 👎 and "Talk to a human", as the bot's answers carry them."""
    labels = (("up", "👍"), ("down", "👎"), ("human", "Talk to a human"))
    buttons = [
        {"type": "button", "action_id": f"floor_{name}", "value": "1", "text": _plain(label)}
        for name, label in labels
    ]
    return [{"type": "actions", "elements": buttons}]


class SlackFloor:
    """Slack's HTTP events endpoint answering each mention or DM in one message."""

    def __init__(self, llm: openai.AsyncOpenAI, slack: AsyncWebClient, secret: str, body: dict[str, Any]):
        self._llm = llm
        self._slack = slack
        self._verifier = SignatureVerifier(secret)
        self._body = body
        self._tasks: set[asyncio.Task[None]] = set()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/slack/events", self._event)
        return app

    async def _event(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if not self._verifier.is_valid_request(raw, dict(request.headers)):
            return web.Response(status=401)
        event = json.loads(raw).get("event") or {}
        if event.get("bot_id") or event.get("subtype") or not event.get("user"):
            return web.Response()
        if event.get("type") == "message" and event.get("channel_type") != "im":
            return web.Response()
        task = asyncio.create_task(self._answer(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.Response()

    async def _answer(self, event: dict[str, Any]) -> None:
        text = await read_answer(self._llm, self._body)
        thread = None if event.get("channel_type") == "im" else event.get("thread_ts") or event["ts"]
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}, *_buttons()]
        await self._slack.chat_postMessage(
            channel=event["channel"], thread_ts=thread, text=text, blocks=blocks
        )


class DiscordFloor(discord.Client):
    """A discord.py client answering each DM with one message and a button."""

    def __init__(self, llm: openai.AsyncOpenAI, body: dict[str, Any]) -> None:
        intents = discord.Intents.none()
        intents.dm_messages = intents.guild_messages = intents.message_content = intents.guilds = True
        super().__init__(intents=intents)
        self._llm = llm
        self._body = body

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or message.guild is not None:
            return
        text = await read_answer(self._llm, self._body)
        view = discord.ui.View(timeout=None)
        view.add_item(discord.ui.Button(label="Talk to a human", custom_id="floor:human"))
        await message.channel.send(text, view=view)
