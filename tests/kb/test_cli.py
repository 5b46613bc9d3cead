"""`kb` commands parsed by the real command line and run with `run_kb_command` on a real SQLite file:
eval metrics, JSON search, errors."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import cast

import aiosqlite
import pytest

from bot.cli.kb import kb_commands
from bot.kb import KBSettings
from bot.kb.cli import KBRequest, run_kb_command
from tests.conftest import REPO

SETTINGS = KBSettings(min_score=0.5)
SAMPLE = REPO / "config" / "sample_kb"
RESET = "how do I reset my password for my workspace account settings"


def parse(*argv: str) -> KBRequest:
    """The request `supportbot kb ARGV...` makes (the real command line, run without the app)."""
    request = kb_commands(lambda _, request: request).main(list(argv), "kb", standalone_mode=False)
    assert not isinstance(request, int)
    return cast(KBRequest, request)


async def run(
    db: aiosqlite.Connection, *argv: str, stdin: str = "", settings: KBSettings = SETTINGS
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await run_kb_command(parse(*argv), db, settings, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def tiny_corpus(root: Path) -> Path:
    root.mkdir()
    (root / "alpha.md").write_text("# Alpha\n\nZebras graze.\n")
    (root / "beta.md").write_text("# Beta\n\nLions hunt zebras.\n")
    (root / "gamma.md").write_text("# Gamma\n\nPenguins swim.\n")
    return root


@pytest.mark.asyncio
async def test_eval_exact_metrics(db: aiosqlite.Connection, tmp_path: Path) -> None:
    corpus = tiny_corpus(tmp_path / "zoo")
    assert (await run(db, "add", str(corpus), "--quiet"))[0] == 0
    questions = [
        {"id": "1", "question": "penguins swim", "relevant": ["gamma.md"]},  # rank 1
        {"id": "2", "question": "lions hunt zebras", "relevant": ["beta.md", "alpha.md"]},  # 1/2 at 1
        {"id": "3", "question": "lions", "relevant": ["alpha.md"]},  # alpha never retrieved
        {"id": "4", "question": "quantum penguins", "relevant": ["gamma.md"]},  # abstains: a miss
        {"id": "5", "question": "quantum chromodynamics", "relevant": []},  # abstains: right
        {"id": "6", "question": "penguins", "relevant": []},  # answers: wrong
    ]
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps(q) for q in questions) + "\n")
    code, out, err = await run(db, "eval", str(path))
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "recall@1=0.3750 recall@5=0.5000 mrr=0.5000 abstain=0.5000 false_abstain=0.2500 "
        "answerable=4 unanswerable=2",
        "targets: recall@5 0.5000 (target ≥ 0.90: missed), mrr 0.5000 (target ≥ 0.75: missed),"
        " abstain 0.5000 (target ≥ 0.90: missed), false_abstain 0.2500 (target ≤ 0.10: missed)",
        # question 4's page ranks first once its abstention is ignored: (1 + 0.5 + 0 + 1) / 4
        "ranking alone (what a model reads): recall@5=0.7500 mrr=0.7500; answered 4 of 6,"
        " best page right in 50%",
        "abstain decided by: retrieval alone (the bot without a model)",
    ]
    code, details, _ = await run(db, "eval", "--details", str(path))
    assert details.splitlines()[:3] == [
        "miss 3 (not in the top 5): 'lions' want alpha.md; got beta.md",
        "miss 4 (abstained, though ranked): 'quantum penguins' want gamma.md; got gamma.md",
        "miss 6 (answered, should abstain): 'penguins' want (abstain); got gamma.md",
    ]


@pytest.mark.asyncio
async def test_search_json_reads_stdin_in_order(db: aiosqlite.Connection, tmp_path: Path) -> None:
    await run(db, "add", str(SAMPLE), "--name", "sample", "--quiet")
    code, out, err = await run(db, "search", "--json", stdin=f"{RESET}\n\nboiling point of mercury\n")
    assert (code, err) == (0, "")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [r["query"] for r in lines] == [RESET, "boiling point of mercury"]
    first = lines[0]
    assert first["abstain"] is False
    assert len(first["results"]) >= 5
    assert first["results"][0]["source"] == "reset-password.md"
    assert set(first["results"][0]) >= {"source", "title", "score"}
    scores = [r["score"] for r in first["results"]]
    assert scores == sorted(scores, reverse=True)
    assert lines[1]["abstain"] is True


@pytest.mark.asyncio
async def test_list_remove_and_single_query(db: aiosqlite.Connection, tmp_path: Path) -> None:
    corpus = tiny_corpus(tmp_path / "zoo")
    code, out, _ = await run(
        db, "add", str(corpus), "--quiet", "--url-template", "https://zoo.example/{stem}"
    )
    assert code == 0 and out.startswith("zoo: added 3, changed 0, unchanged 0, removed 0")
    code, out, _ = await run(db, "list")
    assert code == 0 and out.startswith("zoo (live): 3 pages")
    code, out, _ = await run(db, "search", "penguins")
    assert code == 0 and "https://zoo.example/gamma" in out
    assert (await run(db, "remove", "zoo"))[:2] == (0, "removed zoo\n")
    code, _, err = await run(db, "remove", "zoo")
    assert code == 1 and err.count("\n") == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"question": "x", "relevant": []}\nnot json\n', "q.jsonl:2: not valid JSON"),
        ('{"question": "x"}\n', "'relevant' must be a list"),
        ("[1, 2]\n", "expected a JSON object"),
        ("\n", "no questions"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
async def test_eval_bad_file(
    db: aiosqlite.Connection, tmp_path: Path, content: str | bytes, message: str
) -> None:
    path = tmp_path / "q.jsonl"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, out, err = await run(db, "eval", str(path))
    assert code != 0 and out == ""
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.asyncio
async def test_bad_paths_give_one_line(db: aiosqlite.Connection, tmp_path: Path) -> None:
    for argv in (("add", str(tmp_path / "nope")), ("eval", str(tmp_path / "nope.jsonl"))):
        code, _, err = await run(db, *argv)
        assert code != 0
        assert err.count("\n") == 1 and err.startswith("error: ")
    unreadable = tmp_path / "secret.md"
    unreadable.write_text("# Secret\n")
    unreadable.chmod(0)
    try:
        code, _, err = await run(db, "add", str(unreadable))
        if code == 0:  # running as root: permissions are not enforced
            return
        assert err.startswith("error: ") and err.count("\n") == 1
    finally:
        unreadable.chmod(0o644)


@pytest.mark.asyncio
async def test_search_without_query_needs_json(db: aiosqlite.Connection) -> None:
    code, _, err = await run(db, "search")
    assert code == 2 and "--json" in err
