"""The reply pipeline: splitting at a platform's limit, the streaming throttle; the Discord invite URL."""

from __future__ import annotations

import random
from urllib.parse import parse_qs, urlparse

import pytest

from adapters.discord.invite import application_id_from_token, invite_url, needed_permissions
from bot.cli import main
from bot.reply.split import fence_state, split_message
from bot.reply.stream import ReplyStream, TooLong


def content(pieces: list[str]) -> str:
    """The non-blank, non-fence text of the pieces, spaces removed (a cut on a space drops it)."""
    lines = [ln for p in pieces for ln in p.split("\n") if ln.strip() and not ln.lstrip().startswith("```")]
    return "".join(lines).replace(" ", "")


def test_short_text_is_one_piece() -> None:
    assert split_message("hello", 2000) == ["hello"]
    assert split_message("   \n  ", 2000) == []


def test_paragraph_boundaries_win_and_no_piece_is_too_long() -> None:
    para = ("word " * 150).strip()  # 749 characters
    text = "\n\n".join([para] * 6)
    pieces = split_message(text, 2000)
    assert all(len(p) <= 2000 for p in pieces)
    assert pieces == ["\n\n".join([para, para])] * 3


def test_a_code_block_cut_in_two_is_closed_and_reopened_with_its_language() -> None:
    code = "\n".join(f"x_{i} = {i} * 2  # comment" for i in range(200))
    text = f"Intro.\n\n```python\n{code}\n```\n\nOutro."
    pieces = split_message(text, 2000)
    assert len(pieces) >= 3 and all(len(p) <= 2000 for p in pieces)
    assert all(p.count("```") % 2 == 0 for p in pieces)
    assert all(p.startswith("```python\n") for p in pieces[1:])
    assert content(pieces) == content([text])


def test_a_line_longer_than_the_limit_is_cut_on_spaces_then_hard() -> None:
    words = "lorem " * 1000
    assert all(len(p) <= 2000 for p in split_message(words, 2000))
    blob = "x" * 4500
    assert split_message(blob, 2000) == ["x" * 1996, "x" * 1996, "x" * 508]


def test_random_texts_keep_every_line_and_balanced_fences() -> None:
    rng = random.Random(4)
    for _ in range(200):
        lines: list[str] = []
        for _ in range(rng.randint(1, 400)):
            kind = rng.random()
            if kind < 0.05:
                lines.append("```" + rng.choice(["", "py", "bash"]))
            elif kind < 0.15:
                lines.append("")
            else:
                lines.append(" ".join("w" * rng.randint(1, 12) for _ in range(rng.randint(1, 20))))
        text = "\n".join(lines)
        if fence_state(text) is not None:
            text += "\n```"
        limit = rng.choice([200, 500, 2000])
        pieces = split_message(text, limit=limit)
        assert all(len(p) <= limit for p in pieces)
        assert all(fence_state(p) is None for p in pieces)
        assert content(pieces) == content([text])


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Sink:
    """A platform's surface for the pipeline: records posts and edits with the clock's time."""

    interim_suffix = ""

    def __init__(self, clock: Clock, limit: int = 2000, edit_interval_s: float = 1.0) -> None:
        self.limit = limit
        self.edit_interval_s = edit_interval_s
        self.clock = clock
        self.log: list[tuple[float, str, int, str, bool]] = []
        self.shown: dict[int, str] = {}

    def render(self, markdown: str) -> str:
        return markdown

    async def post(self, text: str, *, final: bool) -> int:
        number = len(self.shown)
        self.shown[number] = text
        self.log.append((self.clock.now, "post", number, text, final))
        return number

    async def edit(self, number: int, text: str, *, final: bool) -> int:
        self.shown[number] = text
        self.log.append((self.clock.now, "edit", number, text, final))
        return number

    async def delete(self, number: int) -> None:
        del self.shown[number]
        self.log.append((self.clock.now, "delete", number, "", False))


async def test_first_text_at_once_then_at_most_one_edit_per_interval_then_a_final_edit() -> None:
    clock = Clock()
    sink = Sink(clock)
    reply = ReplyStream(sink, clock=clock)
    text = ""
    for t, piece in [
        (0.0, "Hello"),
        (0.3, " there"),
        (0.9, ","),
        (1.0, " how"),
        (1.5, " are"),
        (2.2, " you"),
    ]:
        clock.now = t
        text += piece
        await reply.update(text)
    clock.now = 2.3
    await reply.finish(text + "?", decorate=True)
    assert [(t, kind, txt, final) for t, kind, _, txt, final in sink.log] == [
        (0.0, "post", "Hello", False),
        (1.0, "edit", "Hello there, how", False),
        (2.2, "edit", "Hello there, how are you", False),
        (2.3, "edit", "Hello there, how are you?", True),
    ]


async def test_streaming_past_the_limit_continues_in_a_new_message_and_shorter_finals_delete() -> None:
    clock = Clock()
    sink = Sink(clock, limit=20)
    reply = ReplyStream(sink, clock=clock)
    await reply.update("aaaa bbbb cccc")
    await reply.update("aaaa bbbb cccc dddd eeee")  # over 20: a second message at once
    assert list(sink.shown.values()) == ["aaaa bbbb cccc", "dddd eeee"]
    clock.now = 5
    await reply.finish("short", decorate=False)
    assert sink.shown == {0: "short"}
    assert sink.log[-1][1] == "delete"


async def test_final_without_decoration_skips_an_unchanged_edit() -> None:
    clock = Clock()
    sink = Sink(clock)
    reply = ReplyStream(sink, clock=clock)
    await reply.update("done")
    assert await reply.finish("done", decorate=False) == [0]
    assert [kind for _, kind, *_ in sink.log] == ["post"]


def test_invite_url_has_exactly_the_needed_scopes_and_permissions() -> None:
    url = urlparse(invite_url("123456789012345678", None))
    query = parse_qs(url.query)
    assert url.netloc == "discord.com" and query["client_id"] == ["123456789012345678"]
    assert query["scope"] == ["bot applications.commands"]
    perms = needed_permissions()
    assert (
        int(query["permissions"][0])
        == perms.value
        == (1 << 10) | (1 << 11) | (1 << 16) | (1 << 35) | (1 << 38)
    )
    token = "MTIwMDAwMDAwMDAwMDAwMDAwMQ.GfAkE0.not-a-real-token"
    assert application_id_from_token(token) == "1200000000000000001"
    assert "client_id=1200000000000000001" in invite_url(None, token)
    with pytest.raises(ValueError, match="--client-id"):
        invite_url(None, "not a token")
    with pytest.raises(ValueError, match="--client-id"):
        invite_url(None, None)


def test_invite_url_command(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "MTIwMDAwMDAwMDAwMDAwMDAwMQ.GfAkE0.not-a-real-token")
    assert main(["invite-url"]) == 0
    assert "client_id=1200000000000000001" in capsys.readouterr().out
    assert main(["invite-url", "--client-id", "42"]) == 0
    assert "client_id=42&" in capsys.readouterr().out
    monkeypatch.delenv("DISCORD_BOT_TOKEN")
    assert main(["invite-url"]) == 2
    assert "--client-id" in capsys.readouterr().err


class Picky(Sink):
    """A surface whose platform refuses messages longer than it says (Slack's msg_too_long)."""

    def __init__(self, clock: Clock, *, accepts: int, limit: int) -> None:
        super().__init__(clock, limit=limit)
        self.accepts = accepts

    async def post(self, text: str, *, final: bool) -> int:
        if len(text) > self.accepts:
            raise TooLong(f"{len(text)} characters")
        return await super().post(text, final=final)

    async def edit(self, number: int, text: str, *, final: bool) -> int:
        if len(text) > self.accepts:
            raise TooLong(f"{len(text)} characters")
        return await super().edit(number, text, final=final)


async def test_a_platform_that_says_too_long_gets_smaller_pieces_and_the_whole_text() -> None:
    clock = Clock()
    sink = Picky(clock, accepts=700, limit=1500)
    text = "\n\n".join(f"paragraph {i} " + "word " * 40 for i in range(12))
    await ReplyStream(sink, clock=clock).finish(text)
    shown = list(sink.shown.values())
    assert len(shown) >= 4 and all(len(piece) <= 700 for piece in shown)
    assert content(shown) == content([text])
    assert sink.log[-1][4] is True  # the last piece got its final version (the place for buttons)


async def test_a_recovered_answer_is_laid_out_exactly_as_a_streamed_one() -> None:
    text = "\n\n".join(f"step {i}: " + "do this " * 30 for i in range(20))
    streamed, whole = Sink(Clock(), limit=500), Sink(Clock(), limit=500)
    live = ReplyStream(streamed, clock=streamed.clock)
    for end in range(0, len(text), 37):
        await live.update(text[:end])
    await live.finish(text)
    await ReplyStream(whole, clock=whole.clock).finish(text)
    assert streamed.shown == whole.shown
