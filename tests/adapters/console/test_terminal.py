"""The console in a terminal: prompt_toolkit reading keys from a real pipe (line editing, the up arrow
recalls the last line, Ctrl-C leaves), /help answered locally, a handed-over conversation says it
waits for a person on each message and on resume. The real adapter, manager, SQLite and fake LLM."""

from __future__ import annotations

import io

from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput

from adapters.console.adapter import HELP, WAITING, WAITING_ON_RESUME, ConsoleAdapter
from adapters.console.lines import TerminalLines
from bot.app import App, running_app
from tests.conftest import ConfigFactory
from tests.fakes.openai_server import FakeOpenAI

UP = "\x1b[A"
CTRL_C = "\x03"
CTRL_D = "\x04"
LEFT = "\x1b[D"


class Typist(TerminalLines):
    """Types the next line's keys into the terminal as the console prompts for it (as a person
    does: prompt_toolkit loads the history when a prompt starts)."""

    def __init__(self, terminal: PipeInput, keys: list[str]) -> None:
        super().__init__("you> ", terminal_in=terminal, terminal_out=DummyOutput())
        self._terminal = terminal
        self._keys = keys

    async def read(self) -> str | None:
        if self._keys:
            self._terminal.send_text(self._keys.pop(0))
        return await super().read()


async def chat(app: App, *keys: str, thread: str = "c1") -> str:
    """Type each of `keys` at a terminal prompt in turn; what the bot wrote."""
    out = io.StringIO()
    with create_pipe_input() as terminal:
        console = ConsoleAdapter(
            thread=thread,
            user_name="ada",
            stdin=io.StringIO(""),
            stdout=out,
            interactive=True,
            bot_name="Supportbot",
            service=app.service,
            lines=Typist(terminal, list(keys)),
        )
        await console.run()
    return out.getvalue()


async def test_line_editing_history_help_and_ctrl_c(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    async with running_app(make_config()) as app:
        # "pice?", four left arrows and "r" edit the line to "price?"; the up arrow brings it back;
        # Ctrl-C leaves.
        out = await chat(app, f"pice?{LEFT * 4}r\r", f"{UP}\r", "/help\r", f"{CTRL_C}never sent\r")
    assert [r["messages"][-1]["content"] for r in fake_openai.requests] == ["price?", "price?"]
    assert out == (
        "Supportbot> Echo (2 messages): price?\n\n"
        "Supportbot> Echo (4 messages): price?\n\n"
        f"Supportbot> {HELP}\n\n\n"
    )


async def test_a_handed_over_conversation_says_it_waits_for_a_person(
    make_config: ConfigFactory, fake_openai: FakeOpenAI
) -> None:
    async with running_app(make_config()) as app:
        first = await chat(app, "/escalate please\r", "anyone?\r", CTRL_D)
        again = await chat(app, "still there?\r", CTRL_D)
    assert first.startswith("Supportbot> Nobody on the team is set up to receive requests for a person")
    assert first.endswith(f"Supportbot> {WAITING}\n\n\n")
    assert again == f"Supportbot> {WAITING_ON_RESUME}\n\nSupportbot> {WAITING}\n\n\n"
    assert fake_openai.requests == []
