"""The shared catalogue of help pages: what `kb add` / `kb remove` publish when instances share a
database (Postgres), and what every instance's local index is brought in line with (`bot.kb.mirror`).

The catalogue is the source of truth for the pages; searching stays in each instance's own SQLite
FTS5 index. Every change to it raises one revision number, so an instance whose index applied the
current revision has nothing to do. The store backend implements `SharedPages`
(`bot.storage.postgres.kb_pages`); the knowledge base knows only this protocol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SharedSource:
    """A source as `kb add` indexed it: its name and options (`root` is where it was read, for `kb list`)."""

    name: str
    root: str
    url_template: str | None
    include_pattern: str


@dataclass(frozen=True, slots=True)
class SharedPage:
    """One page of a source: its path in the source, link, content hash and text as read (snippets
    expanded), from which any instance parses and chunks it."""

    path: str
    url: str | None
    content_hash: str
    text: str


@dataclass(frozen=True, slots=True)
class ListedSource:
    source: SharedSource
    pages: Mapping[str, str]  # path -> content hash


@dataclass(frozen=True, slots=True)
class Listing:
    """Every shared source with its pages' hashes (no texts), as of `revision`."""

    revision: int
    sources: tuple[ListedSource, ...]


@dataclass(frozen=True, slots=True)
class Published:
    """The catalogue's revision before and after one publish (equal: nothing changed)."""

    before: int
    after: int

    @property
    def changed(self) -> bool:
        return self.after != self.before


class SharedError(Exception):
    """The shared catalogue could not be read or written; the message is one line."""


class SharedPages(Protocol):
    """The catalogue on the shared database. Every method raises `SharedError` when it fails."""

    async def revision(self) -> int:
        """The current revision (0 before anything was published)."""
        ...

    async def listing(self) -> Listing:
        """Every source and its pages' hashes, read at one revision."""
        ...

    async def pages(self, source: str, paths: Sequence[str]) -> list[SharedPage]:
        """These pages of `source` as they are now (a path no longer shared is left out)."""
        ...

    async def publish(self, source: SharedSource, pages: Sequence[SharedPage]) -> Published:
        """Make `pages` the source's whole content, with these options; the revision goes up only
        when something differs (only changed pages' texts are written)."""
        ...

    async def withdraw(self, name: str) -> Published:
        """Remove a source and its pages (unchanged revision when there was no such source)."""
        ...
