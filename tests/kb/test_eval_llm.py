"""`supportbot kb eval --with-llm`: the model's own declines count as abstaining (real processes,
the real openai SDK against the fake OpenAI server)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ConfigFactory
from tests.fakes.openai_server import FakeOpenAI


async def supportbot(*argv: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "supportbot"),
        *argv,
        env=dict(os.environ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def answers_only_about_swimming(request: dict[str, Any]) -> str:
    question = request["messages"][-1]["content"]
    roles = [m["role"] for m in request["messages"]]
    material = request["messages"][-2]["content"]
    # Asked the way a live answer is: the system prompt alone as system, the passages as data.
    assert roles == ["system", "user", "user"] and "<reference-" in material
    if "swim" in question:
        return "Penguins swim well [1]."
    return "The help center doesn't cover that."


async def test_eval_with_llm_counts_the_models_declines(
    make_config: ConfigFactory, fake_openai: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "zoo"
    corpus.mkdir()
    (corpus / "beta.md").write_text("# Beta\n\nLions hunt zebras.\n")
    (corpus / "gamma.md").write_text("# Gamma\n\nPenguins swim.\n")
    questions = [
        {"id": "1", "question": "penguins swim", "relevant": ["gamma.md"]},  # cited: answered
        {"id": "2", "question": "do penguins fly", "relevant": []},  # retrieval answers, model declines
        {"id": "3", "question": "lions hunt zebras", "relevant": ["beta.md"]},  # the model declines wrongly
    ]
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps(q) for q in questions) + "\n")
    monkeypatch.setenv("SUPPORTBOT_CONFIG", str(make_config(kb=True).config_file))
    assert (await supportbot("kb", "add", str(corpus), "--quiet"))[0] == 0
    code, plain, err = await supportbot("kb", "eval", str(path))
    assert (code, err) == (0, "")
    assert "abstain=0.0000 false_abstain=0.0000" in plain
    assert fake_openai.requests == []  # retrieval alone asks no model

    fake_openai.reply = answers_only_about_swimming
    code, judged, err = await supportbot("kb", "eval", "--with-llm", str(path))
    assert (code, err) == (0, "")
    assert judged.splitlines()[0] == (
        "recall@1=0.5000 recall@5=0.5000 mrr=0.5000 abstain=1.0000 false_abstain=0.5000 "
        "answerable=2 unanswerable=1"
    )
    assert len(fake_openai.requests) == 3

    fake_openai.fail_next("401")  # a bad key: one line naming the question, no traceback
    code, _, err = await supportbot("kb", "eval", "--with-llm", str(path))
    assert code == 1 and err.startswith("error: the model check of question 1 failed")
    assert "Traceback" not in err

    monkeypatch.delenv("OPENAI_API_KEY")
    code, _, err = await supportbot("kb", "eval", "--with-llm", str(path))
    assert code == 2 and "needs a language model: set OPENAI_API_KEY" in err
