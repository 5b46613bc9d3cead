"""Expansion of shared-snippet includes (Zulip `{!name.md!}`, MkDocs `--8<-- "file"`).

Doc sets assemble pages from snippets; a page is indexed as a reader would see it, so includes are
inlined before parsing. Pure functions, safe to run in a worker thread.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

MAX_DEPTH = 8


@dataclass
class IncludeResolver:
    """Inlines include directives, looking snippets up beside the page and in the snippet folders."""

    root: Path
    pattern: re.Pattern[str]
    snippet_dirs: Sequence[str]
    warnings: list[str] = field(default_factory=list)
    _cache: dict[Path, str] = field(default_factory=dict)

    def expand(self, text: str, page: Path) -> str:
        return self._expand(text, page, (page.resolve(),), 0)

    def _expand(self, text: str, page: Path, stack: tuple[Path, ...], depth: int) -> str:
        def replace(match: re.Match[str]) -> str:
            name = next((g for g in match.groups() if g), None)
            if name is None:
                return ""
            target = self._find(name.strip(), page, stack)
            if target is None:
                self.warnings.append(f"{_rel(page, self.root)}: include not found: {name}")
                return ""
            if depth >= MAX_DEPTH:
                self.warnings.append(f"{_rel(page, self.root)}: includes nested too deep at {name}")
                return ""
            body = self._read(target)
            return self._expand(body, target, (*stack, target), depth + 1)

        return self.pattern.sub(replace, text)

    def _find(self, name: str, page: Path, stack: tuple[Path, ...]) -> Path | None:
        bases = [page.parent, self.root]
        candidates = [base / d / name for base in bases for d in self.snippet_dirs]
        candidates += [base / name for base in bases]
        for candidate in candidates:
            try:
                resolved = candidate.resolve()
            except OSError:
                continue
            if resolved in stack or not resolved.is_file():
                continue
            if not resolved.is_relative_to(self.root.resolve()):
                continue  # never read outside the folder that was added
            return resolved
        return None

    def _read(self, path: Path) -> str:
        if path not in self._cache:
            try:
                self._cache[path] = path.read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                self.warnings.append(f"cannot read include {path.name}: {exc.strerror}")
                self._cache[path] = ""
        return self._cache[path]


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name


def compile_include_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a user-supplied include regex; its first non-empty group is the snippet's file name."""
    compiled = re.compile(pattern, re.MULTILINE)
    if compiled.groups < 1:
        raise ValueError("include pattern needs a capture group for the file name")
    return compiled
