"""Knowledge base: indexing, re-indexing, includes, safe queries and abstention on real SQLite files."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from bot.kb import KBSettings, KnowledgeBase, SourceError
from bot.kb.indexing import Indexer
from bot.kb.query import match_any, query_terms
from bot.kb.writes import Writer
from bot.storage.sqlite import SQLiteStore
from tests.conftest import REPO

SAMPLE = REPO / "config" / "sample_kb"


@pytest.fixture
async def kb(db: aiosqlite.Connection) -> KnowledgeBase:
    base = KnowledgeBase(db, KBSettings())
    await base.setup()
    return base


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def make_docs(root: Path) -> None:
    write(
        root / "refunds.md",
        "# Refunds\n\nAnnual plans are refunded within 30 days.\n\n"
        "## Partial months\n\nNo partial refunds.\n",
    )
    write(root / "guide" / "export.md", "# Export data\n\nDownload a CSV export of every board.\n")
    write(root / "notes.txt", "Office hours are nine to five.\n")
    write(
        root / "page.html",
        "<html><head><title>Ignored</title><script>var x='kangaroo';</script></head>"
        "<body><h1>Webhooks</h1><p>Webhooks deliver JSON payloads.</p><h2>Retries</h2>"
        "<p>Failed deliveries retry five times.</p></body></html>",
    )


@pytest.mark.asyncio
async def test_add_indexes_markdown_text_and_html(kb: KnowledgeBase, tmp_path: Path) -> None:
    root = tmp_path / "docs"
    make_docs(root)
    report = await kb.add(root, name="help", url_template="https://help.example.com/{stem}")
    assert (report.added, report.changed, report.unchanged, report.removed) == (4, 0, 0, 0)

    result = await kb.search("partial refunds annual")
    top = result.hits[0]
    assert top.source == "refunds.md"
    assert top.title == "Refunds"
    assert top.url == "https://help.example.com/refunds"
    assert not result.abstain

    nested = (await kb.search("csv export board")).hits[0]
    assert (nested.source, nested.url) == ("guide/export.md", "https://help.example.com/guide/export")

    html = (await kb.search("failed deliveries retry")).hits[0]
    assert (html.source, html.title, html.section) == ("page.html", "Webhooks", "Retries")
    assert (await kb.search("kangaroo")).hits == []  # script content is not indexed

    text = (await kb.search("office hours")).hits[0]
    assert (text.source, text.title) == ("notes.txt", "Notes")

    [info] = await kb.sources()
    assert (info.name, info.documents) == ("help", 4)


@pytest.mark.asyncio
async def test_reindex_only_changes(kb: KnowledgeBase, tmp_path: Path) -> None:
    root = tmp_path / "docs"
    make_docs(root)
    await kb.add(root, name="help")

    again = await kb.add(root, name="help")
    assert (again.added, again.changed, again.unchanged, again.removed) == (0, 0, 4, 0)

    write(root / "refunds.md", "# Refunds\n\nMonthly plans get prorated credit instead.\n")
    (root / "notes.txt").unlink()
    write(root / "new.md", "# Shortcuts\n\nPress N to create a task.\n")
    report = await kb.add(root, name="help")
    assert (report.added, report.changed, report.unchanged, report.removed) == (1, 1, 2, 1)

    assert (await kb.search("office hours")).hits == []
    assert (await kb.search("prorated credit")).hits[0].source == "refunds.md"
    assert (await kb.search("annual")).hits == []  # old text of the changed page is gone
    [info] = await kb.sources()
    assert info.documents == 4


@pytest.mark.asyncio
async def test_remove_source(kb: KnowledgeBase, tmp_path: Path) -> None:
    make_docs(tmp_path / "a")
    write(tmp_path / "b" / "other.md", "# Other\n\nRefunds are handled by finance.\n")
    await kb.add(tmp_path / "a", name="a")
    await kb.add(tmp_path / "b", name="b")
    assert await kb.remove("a") is True
    assert await kb.remove("a") is False
    assert [s.name for s in await kb.sources()] == ["b"]
    assert {h.source for h in (await kb.search("refunds")).hits} == {"other.md"}


@pytest.mark.asyncio
async def test_includes_expanded_and_snippet_folder_skipped(kb: KnowledgeBase, tmp_path: Path) -> None:
    root = tmp_path / "help"
    write(root / "include" / "admin-only.md", '!!! warn ""\n\n    Only owners can do this zebrafish step.\n')
    write(root / "snippets" / "shared.md", "Tap the hamburger menu.\n")
    write(
        root / "delete-board.md",
        "# Delete a board\n\n{!admin-only.md!}\n\n{start_tabs}\n{tab|desktop-web}\n"
        '--8<-- "shared.md"\n\n{settings_tab|notifications}\n{end_tabs}\n\n'
        "## Related articles\n\n* [Archive a board](/help/archive)\n",
    )
    report = await kb.add(root)
    assert report.source_name == "help"
    assert report.added == 1  # snippets are not articles
    hit = (await kb.search("zebrafish")).hits[0]
    assert hit.source == "delete-board.md"
    assert "zebrafish" in hit.text and "!!!" not in hit.text and "{" not in hit.text
    assert (await kb.search("hamburger")).hits[0].source == "delete-board.md"
    assert (await kb.search("notifications")).hits[0].source == "delete-board.md"
    assert (await kb.search("archive")).hits == []  # link lists dropped
    assert "Desktop web:" in hit.text  # a tab marker reads as its label

    # A changed snippet re-indexes the page that includes it.
    write(root / "include" / "admin-only.md", "Only owners can do this platypus step.\n")
    again = await kb.add(root)
    assert (again.changed, again.unchanged) == (1, 0)
    assert (await kb.search("platypus")).hits[0].source == "delete-board.md"


@pytest.mark.asyncio
async def test_custom_include_pattern(kb: KnowledgeBase, tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write(root / "part.md", "Walrus facts.\n")
    write(root / "page.md", "# Page\n\n@include(part.md)\n")
    await kb.add(root, include_pattern=r"^@include\((.+)\)$")
    assert (await kb.search("walrus")).hits[0].source == "page.md"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "hostile",
    [
        '"',
        'refund" OR "',
        "NOT AND OR NEAR(",
        "title:refunds",
        "refund*",
        "^refund",
        "(((",
        "{title section}: x",
        "💸💸 refund 🙄",
        "'; DROP TABLE kb_fts; --",
        "\x00\x01",
        "",
        "   ",
        "a" * 5000,
    ],
)
async def test_hostile_queries_never_raise(kb: KnowledgeBase, tmp_path: Path, hostile: str) -> None:
    make_docs(tmp_path / "docs")
    await kb.add(tmp_path / "docs")
    result = await kb.search(hostile)
    assert result.query == hostile
    assert isinstance(result.abstain, bool)


def test_query_terms_are_quoted_and_filtered() -> None:
    terms = query_terms('How do I "reset" my PASSWORD?? NEAR/2 🙄 it\u2019s')
    assert terms == ["reset", "password", "near"]
    assert match_any(terms) == '"reset" OR "password" OR "near"'


@pytest.mark.asyncio
async def test_abstains_when_nothing_relevant(kb: KnowledgeBase) -> None:
    await kb.add(SAMPLE, name="sample")
    answerable = await kb.search("I forgot my password, how do I reset it?")
    assert not answerable.abstain
    assert answerable.hits[0].source == "reset-password.md"
    off_topic = await kb.search("what is the boiling point of mercury in kelvin")
    assert off_topic.abstain
    assert off_topic.confidence < KBSettings().min_score
    assert (await kb.search("the and of to")).abstain  # only stop words


@pytest.mark.asyncio
async def test_a_question_of_hundreds_of_words_is_ranked_as_a_short_one(kb: KnowledgeBase) -> None:
    # Past bm25.TERMS_PER_STATEMENT the per-term counts take several statements; the order the
    # words come in (and so which statement a term lands in) changes nothing.
    await kb.add(SAMPLE, name="sample")
    filler = [f"zq{n}" for n in range(600)]  # SQLite takes at most 500 SELECTs in one statement
    first = await kb.search(" ".join(["reset", "password", *filler]))
    last = await kb.search(" ".join([*filler, "password", "reset"]))
    assert first.hits[0].source == "reset-password.md"
    assert [(h.source, h.score) for h in first.hits] == [(h.source, h.score) for h in last.hits]
    assert first.confidence == pytest.approx(last.confidence) and first.confidence > 0


@pytest.mark.asyncio
async def test_a_search_asks_sqlite_four_times(kb: KnowledgeBase, db: aiosqlite.Connection) -> None:
    """Each statement is a trip to the database thread (~30 µs busy, ~160 µs idle): the best chunks,
    the title matches with the pages' titles, the confidence's counts with the page total, the hits."""
    await kb.add(SAMPLE, name="sample")
    ours: list[str] = []  # the statements sent from Python (FTS5's own inner queries name '%_idx' etc.)
    await db.set_trace_callback(lambda sql: ours.append(sql) if "'main'." not in sql else None)
    found = await kb.search("how do I reset my password?")
    asked = list(ours)
    assert found.hits[0].source == "reset-password.md" and not found.abstain
    assert len(asked) == 4, asked


@pytest.mark.asyncio
async def test_one_hit_per_page_and_k(kb: KnowledgeBase) -> None:
    await kb.add(SAMPLE, name="sample")
    result = await kb.search("plan billing invoices subscription members workspace settings", k=5)
    sources = [h.source for h in result.hits]
    assert len(sources) == 5
    assert len(set(sources)) == 5
    assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)


@pytest.mark.asyncio
async def test_sample_indexed_once_when_empty(kb: KnowledgeBase) -> None:
    base = SAMPLE.parent
    first = await kb.index_sample_if_empty(base)
    assert first is not None and first.added >= 8
    assert await kb.index_sample_if_empty(base) is None


@pytest.mark.asyncio
async def test_add_errors_are_clear(kb: KnowledgeBase, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file or folder"):
        await kb.add(tmp_path / "missing")
    write(tmp_path / "x.md", "# X\n")
    with pytest.raises(SourceError, match="URL template"):
        await kb.add(tmp_path, url_template="https://x/{nope}")
    with pytest.raises(SourceError, match="include pattern"):
        await kb.add(tmp_path, include_pattern="(")


@pytest.mark.asyncio
async def test_setup_is_idempotent_and_versioned(db: aiosqlite.Connection) -> None:
    kb = KnowledgeBase(db, KBSettings())
    await kb.setup()
    await kb.setup()
    async with db.execute("SELECT value FROM kb_meta WHERE key = 'schema_version'") as cur:
        assert await cur.fetchone() == ("3",)


async def test_a_failed_add_leaves_nothing_behind_on_the_apps_autocommit_connection(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "app.db")  # the app's connection: autocommit, shared lock
    await store.open()
    try:
        kb = KnowledgeBase(store.db, KBSettings(), write_lock=store.write_lock)
        await kb.setup()
        root = tmp_path / "docs"
        write(root / "a.md", "# Alpha\n\nFirst page.\n")
        write(root / "b.md", "# Beta\n\nThis page says BOOM.\n")
        await store.db.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON kb_chunks WHEN NEW.text LIKE '%BOOM%'"
            " BEGIN SELECT RAISE(ABORT, 'boom'); END"
        )
        with pytest.raises(sqlite3.IntegrityError, match="boom"):
            await kb.add(root)
        rows = list(await store.db.execute_fetchall("SELECT count(*) FROM kb_documents"))
        assert rows[0][0] == 0  # the whole add rolled back, not just the failing statement
        assert not store.db.in_transaction
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_your_own_pages_replace_the_sample(kb: KnowledgeBase, tmp_path: Path) -> None:
    assert await kb.index_sample_if_empty(SAMPLE.parent) is not None
    make_docs(tmp_path / "docs")
    report = await kb.add(tmp_path / "docs")
    assert report.dropped_sample
    assert [s.name for s in await kb.sources()] == ["docs"]
    assert all(h.source_name == "docs" for h in (await kb.search("reset password refund")).hits)
    assert await kb.index_sample_if_empty(SAMPLE.parent) is None  # never comes back


@pytest.mark.asyncio
async def test_a_sample_left_beside_other_sources_is_dropped_on_start(
    kb: KnowledgeBase, db: aiosqlite.Connection, tmp_path: Path
) -> None:
    """A database from a version that kept both: the next start removes the sample."""
    make_docs(tmp_path / "docs")
    await kb.add(tmp_path / "docs")
    old = Indexer(Writer(db, asyncio.Lock()), KBSettings(), None)  # indexing as that version did
    await old.add(SAMPLE, name="sample", url_template=None, include_pattern=None, progress=None)
    assert sorted(s.name for s in await kb.sources()) == ["docs", "sample"]
    assert await kb.index_sample_if_empty(SAMPLE.parent) is None
    assert [s.name for s in await kb.sources()] == ["docs"]


@pytest.mark.asyncio
async def test_an_empty_folder_warns_and_adds_nothing(kb: KnowledgeBase, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    write(tmp_path / "empty" / "logo.png", "not a page")
    report = await kb.add(tmp_path / "empty")
    assert report.added == 0 and await kb.sources() == []
    assert report.warnings == (
        f"no help pages found in {tmp_path / 'empty'} (looked for .html, .md, .txt files); nothing indexed",
    )


@pytest.mark.asyncio
async def test_binary_and_undecodable_files_are_skipped_with_a_count(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    make_docs(root)
    (root / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (root / "latin1.txt").write_bytes("Caf\xe9 menu".encode("latin-1"))
    report = await kb.add(root)
    assert report.added == 4
    assert report.warnings == (
        "skipped 2 files that are not UTF-8 text (binary or another encoding): image.md, latin1.txt",
    )
    with pytest.raises(SourceError, match="not UTF-8 text"):
        await kb.add(root / "image.md", name="one")


@pytest.mark.asyncio
async def test_pages_are_stored_as_text_a_reader_can_read(db: aiosqlite.Connection, tmp_path: Path) -> None:
    kb = KnowledgeBase(db, KBSettings(url_template="https://help.example.com/{stem}"))
    await kb.setup()
    write(
        tmp_path / "docs" / "steps.md",
        '# Steps\n\nOpen <i class="zulip-icon zulip-icon-gear"></i> the [menu][m] or'
        ' [this page](/help/other).\n\n1. First.\n\n1. Second.\n\n    !!! tip ""\n\n        Tip text.\n\n'
        "1. Third.\n\n[m]: https://example.com/menu\n",
    )
    write(
        tmp_path / "docs" / "page.html",
        '<h1>Page</h1><p>See <a href="https://example.com/g">the guide</a>.</p>'
        "<ol><li>One</li><li><b>Two</b></li></ol><ul><li>dot</li></ul>",
    )
    await kb.add(tmp_path / "docs")
    steps = (await kb.search("first second third")).hits[0]
    assert steps.url == "https://help.example.com/steps"
    assert steps.text == (
        "Open the [menu](https://example.com/menu) or this page.\n\n"
        "1. First.\n2. Second.\n   Tip text.\n3. Third."
    )
    page = (await kb.search("guide")).hits[0]
    assert page.text == "See [the guide](https://example.com/g).\n\n1. One\n2. Two\n\n- dot"
    assert (await kb.search("example com https")).hits == []  # link targets are not searched


@pytest.mark.asyncio
async def test_a_one_line_intro_reads_on_into_the_steps_after_it(kb: KnowledgeBase, tmp_path: Path) -> None:
    write(
        tmp_path / "docs" / "reset.md",
        "# Reset your password\n\nYou can set a new password yourself.\n\n"
        "## Reset a forgotten password\n\n1. Click **Forgot password?**\n2. Open the link we email.\n\n"
        "## Old devices\n\n" + "Sign out everywhere. " * 40 + "\n",
    )
    await kb.add(tmp_path / "docs")
    hit = (await kb.search("reset my password")).hits[0]
    text = await kb.excerpt(hit, "reset my password", 300, "console")
    assert text.startswith(
        "You can set a new password yourself.\n\n"
        "Reset a forgotten password\n1. Click Forgot password?\n2. Open the link we email."
    )
    assert len(text) <= 300
