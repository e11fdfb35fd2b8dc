"""Many processes on one index: concurrent writers, readers that never wait, and writers killed at any point.

Real subprocesses (`python -m qa_bot.cli`), the real model (its ONNX export), FAISS and SQLite.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa_bot import index as index_mod

BASE = {
    "lighthouse.txt": "Gull Island Light\n\nThe lighthouse keeper Ada Morrow lived on Gull Island for thirty years.\n\n"
                      "She kept a logbook of every ship that passed the northern reef.\n",
    "harbour.md": "# Harbour\n\nThe old harbour of Kelmouth was rebuilt in stone after the storm of 1887.\n\n"
                  "Fishing boats still land their catch at the east quay every morning.\n",
    "railway.txt": "The branch railway to Kelmouth opened in 1901 and closed to passengers in 1964.\n",
}
READER = r"""
import json, sys
from pathlib import Path
from qa_bot import index as index_mod, engine
from qa_bot.config import Settings
from qa_bot.search import Retriever
path, rounds = Path(sys.argv[1]), int(sys.argv[2])
encoder, answered = None, 0
for _ in range(rounds):
    stored = index_mod.load(path)  # never waits for a writer
    encoder = encoder or engine.query_encoder(stored, Settings(index=path))
    answer = Retriever(stored, encoder).ask("Who was the lighthouse keeper on Gull Island?")
    assert answer.found and answer.hits[0].passage.source == "lighthouse.txt", answer
    answered += 1
print(json.dumps({"answered": answered}))
"""


def _cli(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "qa_bot.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, **(env or {})))


def _reader(index: Path, rounds: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", READER, str(index), str(rounds)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))


@pytest.fixture
def folders(tmp_path, retriever):
    """A tiny docs folder and its index (the session's ONNX export cache keeps torch out of every process)."""
    docs, index = tmp_path / "docs", tmp_path / "idx"
    docs.mkdir()
    for name, text in BASE.items():
        (docs / name).write_text(text, encoding="utf-8")
    proc = _cli("index", "-q", "--docs", str(docs), "--index", str(index))
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    return docs, index


def _final_state_is_complete(docs: Path, index: Path, newest: str | None) -> None:
    """One more writer finishes what was left; then the index matches the folder and every part verifies."""
    proc = _cli("index", "-q", "--docs", str(docs), "--index", str(index))
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    stored = index_mod.load(index)
    assert set(stored.sources()) == {p.name for p in docs.iterdir()}
    assert not index_mod.is_stale(stored, docs)
    assert len({p.id for p in stored.passages}) == len(stored) == stored.vectors.ntotal
    check = _cli("index", "--check", "--docs", str(docs), "--index", str(index))
    out, err = check.communicate(timeout=120)
    assert check.returncode == 0 and "is OK" in out, err
    if newest:
        ask = _cli("ask", "--json", "--docs", str(docs), "--index", str(index), f"What is said about {newest}?")
        out, err = ask.communicate(timeout=120)
        assert ask.returncode == 0, err
        assert json.loads(out)["results"][0]["source"] == f"{newest}.txt"
    assert not [p for p in (index / "generations").iterdir() if not p.name.isdigit()]  # no temporary folders left


def test_concurrent_writers_and_readers_with_kills(folders):
    docs, index = folders
    rng = random.Random(9)
    steps = ["embedded", "written", "renamed", "commit", "committed"]
    subjects = ["a red kite", "the granite quarry", "the ferry to Skerry", "the winter market"]
    previous = None
    killed = waited = 0
    for round_no, subject in enumerate(subjects):
        name = subject.split()[-1].lower()
        (docs / f"{name}.txt").write_text(f"Round {round_no}: the town council wrote a long report about {subject}.\n",
                                          encoding="utf-8")
        if previous:
            (docs / f"{previous}.txt").unlink()
        with open(docs / "railway.txt", "a", encoding="utf-8") as fh:
            fh.write(f"\nIn round {round_no} a new timetable was printed for the station.\n")
        previous = name
        readers = [_reader(index, 3) for _ in range(2)]
        writers = []
        for i in range(rng.randint(2, 4)):
            kill_at = steps[(round_no + i) % len(steps)] if i == 0 else None
            env = {"QA_BOT_TEST_KILL_AT": kill_at} if kill_at else {}
            if i % 2:
                writers.append((_cli("ask", "--json", "--docs", str(docs), "--index", str(index), "Where is the east quay?",
                                     env=env), kill_at))
            else:
                writers.append((_cli("index", "--docs", str(docs), "--index", str(index), env=env), kill_at))
        # and one writer killed at a random moment
        victim = _cli("index", "-q", "--docs", str(docs), "--index", str(index))
        time.sleep(rng.uniform(0.2, 2.0))
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=60)
        killed += victim.returncode == -signal.SIGKILL
        for proc, kill_at in writers:
            out, err = proc.communicate(timeout=300)
            killed += proc.returncode == -signal.SIGKILL
            waited += "waiting for another qa-bot writing" in err
            if kill_at:
                assert proc.returncode in (0, -signal.SIGKILL), err  # 0 when another writer had done the work first
            else:
                assert proc.returncode == 0, err
                assert "Traceback" not in err
        for reader in readers:
            out, err = reader.communicate(timeout=300)
            assert reader.returncode == 0 and json.loads(out) == {"answered": 3}, err
        _final_state_is_complete(docs, index, name)
    # The rounds did overlap and kill writers. A writer told to die at a step exits 0 instead when
    # another writer did the work first, so the count includes the writers killed at random moments
    # (each step is killed for certain in test_a_writer_killed_at_each_step_leaves_a_usable_index).
    assert killed >= 2 and waited >= 1, (killed, waited)


def test_a_second_writer_waits_with_one_line_and_readers_never_wait(folders):
    docs, index = folders
    (docs / "quarry.txt").write_text("The granite quarry above Kelmouth closed in 1952.\n", encoding="utf-8")
    with index_mod.writer_lock(index):
        writer = _cli("index", "--docs", str(docs), "--index", str(index))
        reader = _reader(index, 1)  # answers from the last published generation while the lock is held
        out, err = reader.communicate(timeout=120)
        assert reader.returncode == 0 and json.loads(out) == {"answered": 1}, err
        time.sleep(1.0)
        assert writer.poll() is None  # still waiting for the lock
    out, err = writer.communicate(timeout=300)
    assert writer.returncode == 0, err
    assert err.count(f"waiting for another qa-bot writing {index} ...") == 1
    assert "1 embedded" in out or "embedded" in out
    again = _cli("index", "--docs", str(docs), "--index", str(index))
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0 and "up to date" in out, err  # the work was done: nothing left to do
    _final_state_is_complete(docs, index, "quarry")


@pytest.mark.parametrize("step", ["embedded", "written", "renamed", "commit", "committed"])
def test_a_writer_killed_at_each_step_leaves_a_usable_index(folders, step):
    docs, index = folders
    before = index_mod.load(index)
    (docs / "kite.txt").write_text("A red kite nests in the beech wood above the railway cutting.\n", encoding="utf-8")
    proc = _cli("index", "--docs", str(docs), "--index", str(index), env={"QA_BOT_TEST_KILL_AT": step})
    proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL
    after = index_mod.load(index)  # the last complete generation (or the new one, once committed)
    assert after.generation == before.generation + (1 if step == "committed" else 0)
    reader = _reader(index, 1)
    out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err
    _final_state_is_complete(docs, index, "kite")


def test_a_long_running_front_end_switches_to_a_new_generation_between_questions(folders):
    from rich.console import Console

    from qa_bot import engine
    from qa_bot.config import Settings
    from qa_bot.repl import Session

    docs, index = folders
    retriever = engine.open_retriever(Settings(docs=docs, index=index), progress=False)
    assert engine.refreshed(retriever) is retriever  # nothing new: the same object, one small query
    console = Console(record=True, width=200)
    session = Session(retriever, console)
    session.handle("Which bird nests in the beech wood?")
    assert "kite.txt" not in console.export_text()
    (docs / "kite.txt").write_text("A red kite nests in the beech wood above the railway cutting.\n", encoding="utf-8")
    proc = _cli("index", "-q", "--docs", str(docs), "--index", str(index))
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    old = session.retriever
    session.handle("Which bird nests in the beech wood?")
    assert "kite.txt" in console.export_text()
    assert session.retriever is not old and old.index.generation < session.retriever.index.generation
    # the retriever an answer started with still answers from its own generation
    assert old.ask("Who was the lighthouse keeper on Gull Island?").hits[0].passage.source == "lighthouse.txt"
