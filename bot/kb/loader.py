"""Reads a folder (or one file) of help pages into chunked pages with content hashes.

CPU and disk work only, no database: indexing (`bot.kb.indexing`) runs it in a worker thread.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .chunks import Chunk, chunk_page
from .includes import IncludeResolver, compile_include_pattern
from .markup import SUPPORTED_SUFFIXES, parse_page

PARSER_VERSION = "3"  # bump when parsing changes so unchanged files are re-indexed anyway
URL_FIELDS = frozenset({"path", "stem", "name"})

Progress = Callable[[int, int], None]


class SourceError(Exception):
    """A folder or option that cannot be indexed; the message is one line fit for users."""


@dataclass(frozen=True, slots=True)
class LoadedPage:
    path: str  # relative to the added folder, POSIX separators
    title: str
    url: str | None
    content_hash: str
    chunks: tuple[Chunk, ...]
    text: str = ""  # the page as read, snippets expanded: what is shared with other instances


@dataclass(frozen=True, slots=True)
class LoadedSource:
    root: Path  # resolved folder that page paths are relative to
    default_name: str  # the folder's name, or the file's stem for a single file
    pages: tuple[LoadedPage, ...]
    warnings: tuple[str, ...]


def check_url_template(template: str | None) -> None:
    if template is None:
        return
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise SourceError(f"bad URL template {template!r}: {exc}") from exc
    unknown = names - URL_FIELDS
    if unknown:
        allowed = ", ".join("{" + f + "}" for f in sorted(URL_FIELDS))
        raise SourceError(f"bad URL template {template!r}: unknown {sorted(unknown)}; use {allowed}")


def page_url(template: str | None, rel: str) -> str | None:
    """`{path}` = relative path, `{stem}` = it without the suffix, `{name}` = the file's stem."""
    if template is None:
        return None
    pure = PurePosixPath(rel)
    stem = pure.with_suffix("").as_posix()
    return template.format(path=rel, stem=stem, name=pure.stem)


def _excluded(name: str, patterns: Sequence[str]) -> bool:
    return name.startswith(".") or any(fnmatch.fnmatchcase(name, p) for p in patterns)


def discover(
    target: Path, snippet_dirs: Sequence[str], exclude: Sequence[str] = ()
) -> tuple[Path, list[Path]]:
    """Return the root folder and the article files under it.

    Snippet folders, dotfiles and files matching an `exclude` glob (by name) are skipped.
    """
    if not target.exists():
        raise SourceError(f"no such file or folder: {target}")
    if target.is_file():
        if target.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise SourceError(f"unsupported file type: {target} (use .md, .txt or .html)")
        return target.parent, [target]
    if not target.is_dir():
        raise SourceError(f"not a file or folder: {target}")
    skip = set(snippet_dirs)
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(target):
        dirnames[:] = sorted(d for d in dirnames if d not in skip and not d.startswith("."))
        for filename in sorted(filenames):
            path = Path(dirpath) / filename
            if not _excluded(filename, exclude) and path.suffix.lower() in SUPPORTED_SUFFIXES:
                files.append(path)
    return target, files


def decode_page(raw: bytes) -> str | None:
    """The file's text, or None for a binary file (a NUL byte) or one that isn't UTF-8."""
    if b"\x00" in raw[:8192]:
        return None
    try:
        return raw.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError:
        return None


def _skipped_warning(skipped: Sequence[str]) -> str:
    shown = ", ".join(skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
    files = "file" if len(skipped) == 1 else "files"
    return f"skipped {len(skipped)} {files} that are not UTF-8 text (binary or another encoding): {shown}"


def _read_page(path: Path, rel: str, *, single: bool, warnings: list[str]) -> str | None:
    """The page's text; "" when it can't be read (a warning), None when it isn't text (skipped).
    Adding one file that can't be indexed is an error instead."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        if single:
            raise SourceError(f"cannot read {path}: {exc.strerror}") from exc
        warnings.append(f"{rel}: cannot read: {exc.strerror}")
        return ""
    text = decode_page(raw)
    if text is None and single:
        raise SourceError(f"cannot index {path}: not UTF-8 text (a binary file or another encoding)")
    return text


def _load_page(
    text: str,
    path: Path,
    rel: str,
    resolver: IncludeResolver,
    url_template: str | None,
    chunk_chars: int,
    known: Mapping[str, str],
) -> LoadedPage:
    """The page parsed and chunked; a page stored with the same content hash is not parsed again
    (its title and chunks stay empty: indexing keeps the stored ones)."""
    expanded = resolver.expand(text, path)
    url = page_url(url_template, rel)
    digest = page_digest(url, expanded, chunk_chars)
    if known.get(rel) == digest:
        return LoadedPage(rel, "", url, digest, (), expanded)
    return parsed_page(rel, expanded, url, digest, chunk_chars)


def page_digest(url: str | None, expanded: str, chunk_chars: int) -> str:
    """A page's content hash: its text as read, its link, and how it is parsed and chunked, so the
    page is re-indexed when any of them changes."""
    parts = [PARSER_VERSION, str(chunk_chars), url or "", expanded]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def parsed_page(rel: str, expanded: str, url: str | None, digest: str, chunk_chars: int) -> LoadedPage:
    """A page parsed and chunked from its text as read (snippets already expanded): from a file, or
    as another instance shared it."""
    parsed = parse_page(expanded, PurePosixPath(rel))
    return LoadedPage(rel, parsed.title, url, digest, tuple(chunk_page(parsed, chunk_chars)), expanded)


def default_source_name(target: Path) -> str:
    """A source's name when none is given: the folder's name, or the file's stem."""
    return target.resolve().name if target.is_dir() else target.stem


def load_source(
    target: Path,
    *,
    url_template: str | None,
    include_pattern: str,
    snippet_dirs: Sequence[str],
    exclude: Sequence[str],
    chunk_chars: int,
    progress: Progress | None = None,
    known: Mapping[str, str] | None = None,
) -> LoadedSource:
    """The source's pages; `known` (stored path -> content hash) spares parsing unchanged ones."""
    check_url_template(url_template)
    try:
        pattern = compile_include_pattern(include_pattern)
    except (ValueError, re.error) as exc:
        raise SourceError(f"bad include pattern: {exc}") from exc
    root, files = discover(target, snippet_dirs, exclude)
    resolver = IncludeResolver(root=root.resolve(), pattern=pattern, snippet_dirs=snippet_dirs)
    pages: list[LoadedPage] = []
    warnings: list[str] = []
    skipped: list[str] = []
    if not files:
        suffixes = ", ".join(sorted({".md", ".txt", ".html"}))
        warnings.append(f"no help pages found in {target} (looked for {suffixes} files); nothing indexed")
    total = len(files)
    if progress:
        progress(0, total)
    for done, path in enumerate(files, start=1):
        rel = path.relative_to(root).as_posix()
        text = _read_page(path, rel, single=len(files) == 1, warnings=warnings)
        if text is None:
            skipped.append(rel)
        elif text:
            pages.append(_load_page(text, path, rel, resolver, url_template, chunk_chars, known or {}))
        if progress:
            progress(done, total)
    if skipped:
        warnings.append(_skipped_warning(skipped))
    warnings.extend(resolver.warnings)
    default_name = default_source_name(target)
    return LoadedSource(
        root=root.resolve(), default_name=default_name, pages=tuple(pages), warnings=tuple(warnings)
    )
