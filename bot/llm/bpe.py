"""A compact byte-pair-encoding token counter for a tiktoken rank file, without tiktoken's tables.

tiktoken's Rust core keeps three copies of a 100,000-token vocabulary (~20 MB resident). Counting
needs only "what is the rank of these bytes?", so here every token's bytes sit in one blob, found
through an open-addressing table of array offsets: ~2 MB. The text is split with the encoding's
own pattern and each piece merged by lowest rank first, leftmost on a tie, as tiktoken merges, so
the counts are the same (tests/llm/test_bpe.py compares them).
"""

from __future__ import annotations

import binascii
import heapq
import io
from array import array
from collections.abc import Iterable

MISSING = -1
CACHED_PIECES = 4096  # pieces (mostly words) whose count is remembered: ~0.5 MB at most


class Ranks:
    """Token bytes → rank, in three flat arrays: the bytes end to end, where each token starts,
    and a hash table of token numbers (0 = an empty slot)."""

    def __init__(self, tokens: Iterable[tuple[bytes, int]], expected: int) -> None:
        size = 1
        while size < expected * 2 + 2:  # at most half full when `expected` tokens come: few probes
            size *= 2
        self._mask = size - 1
        self._slots = array("I", bytes(4 * size))
        self._starts = array("I", [0])
        self._ranks = array("I")
        blob = bytearray()
        for token, rank in tokens:
            if len(self._ranks) == expected:
                raise ValueError(f"more than {expected} tokens")
            blob += token
            self._starts.append(len(blob))
            self._ranks.append(rank)
            slot = hash(token) & self._mask
            while self._slots[slot]:
                slot = (slot + 1) & self._mask
            self._slots[slot] = len(self._ranks)  # the token's number + 1
        self._blob = bytes(blob)

    def __len__(self) -> int:
        return len(self._ranks)

    def rank(self, token: bytes) -> int:
        """The token's rank, or MISSING when these bytes are no token."""
        slots, starts, blob, mask = self._slots, self._starts, self._blob, self._mask
        slot = hash(token) & mask
        while number := slots[slot]:
            start, end = starts[number - 1], starts[number]
            if end - start == len(token) and blob.startswith(token, start):
                return self._ranks[number - 1]
            slot = (slot + 1) & mask
        return MISSING


def read_ranks(data: bytes) -> Ranks:
    """A tiktoken rank file: one `base64-token rank` line per token."""
    lines = (line.split() for line in io.BytesIO(data))  # one at a time: no list of 100,000 lines
    tokens = ((binascii.a2b_base64(token), int(rank)) for token, rank in (pair for pair in lines if pair))
    return Ranks(tokens, data.count(b"\n") + 1)


class BPECounter:
    """Counts the tokens of a text as tiktoken's encode_ordinary would produce them."""

    def __init__(self, pattern: str, ranks: Ranks) -> None:
        import regex  # the pattern needs \p{L}; ~1.5 MB, for the processes that count

        self._split = regex.compile(pattern).findall
        self._ranks = ranks
        self._known: dict[str, int] = {}  # piece → its token count; emptied when full

    def count(self, text: str) -> int:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (JSON can carry one): U+FFFD, as tiktoken counts it
            text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        known = self._known
        tokens = 0
        for piece in self._split(text):
            count = known.get(piece)
            if count is None:
                count = self._piece(piece.encode("utf-8"))
                if len(known) >= CACHED_PIECES:
                    known.clear()
                known[piece] = count
            tokens += count
        return tokens

    def _piece(self, piece: bytes) -> int:
        return 1 if self._ranks.rank(piece) != MISSING else self._merged(piece)

    def _merged(self, piece: bytes) -> int:
        """How many tokens `piece` (no token itself) merges into: repeatedly join the adjacent pair
        with the lowest rank (the leftmost of equals). A heap of candidate pairs keeps a long piece
        at n log n; a popped pair is stale once either side was merged into something else."""
        rank, n = self._ranks.rank, len(piece)
        following = list(range(1, n + 1))  # part starting at i ends where the next one starts
        preceding = list(range(-1, n - 1))
        alive = [True] * n
        pairs = [(r, i, i + 2) for i in range(n - 1) if (r := rank(piece[i : i + 2])) != MISSING]
        heapq.heapify(pairs)
        parts = n
        while pairs:
            _, start, end = heapq.heappop(pairs)
            middle = following[start]
            if not alive[start] or middle >= n or following[middle] != end:
                continue  # stale: one of its two parts has changed
            alive[middle] = False
            following[start] = end
            if end < n:
                preceding[end] = start
            parts -= 1
            before = preceding[start]
            if before >= 0 and (r := rank(piece[before:end])) != MISSING:
                heapq.heappush(pairs, (r, before, end))
            if end < n and (r := rank(piece[start : following[end]])) != MISSING:
                heapq.heappush(pairs, (r, start, following[end]))
        return parts
