"""The CLI contract: JSON and JSONL output, exit codes and one-line error messages."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa_bot.cli import main

FIELDS = {"rank", "score", "text", "source", "paragraph", "line_start", "line_end", "title", "date", "highlight"}


@pytest.fixture
def env(seeds_settings, monkeypatch, retriever):
    """Point the CLI at the session's seeds copy and its built index."""
    monkeypatch.setenv("QA_BOT_DOCS", str(seeds_settings.docs))
    monkeypatch.setenv("QA_BOT_INDEX", str(seeds_settings.index))
    return seeds_settings


def _check_result(result: dict, docs: Path) -> None:
    assert FIELDS <= set(result)
    lines = (docs / result["source"]).read_text(encoding="utf-8").splitlines()
    cited = " ".join(lines[result["line_start"] - 1 : result["line_end"]])
    assert " ".join(result["text"].split()) in " ".join(cited.split())
    assert result["highlight"] in result["text"]


def test_ask_json_follows_the_contract(env, capsys):
    assert main(["ask", "--json", "-k", "2", "Where did Kim Jong Un meet Putin in 2019?"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["query"] == "Where did Kim Jong Un meet Putin in 2019?"
    assert out["found"] is True
    assert [r["rank"] for r in out["results"]] == [1, 2]
    top = out["results"][0]
    assert top["source"] == "004_6e374db3219750da.txt" and top["line_start"] == 5
    assert "Vladivostok" in top["text"]
    assert top["title"] == "Big landmark in DPRK-Russia friendship" and top["date"] == "April 26, 2023"
    assert isinstance(top["score"], float)
    for r in out["results"]:
        _check_result(r, env.docs)


def test_ask_plain_output_has_title_date_and_citation(env, capsys):
    assert main(["ask", "Where did Kim Jong Un meet Putin in 2019?"]) == 0
    out = capsys.readouterr().out
    assert "Big landmark in DPRK-Russia friendship" in out and "April 26, 2023" in out
    assert "004_6e374db3219750da.txt:5" in out and "Vladivostok" in out


def test_jsonl_answers_every_line_in_order(env, capsys, monkeypatch):
    questions = ["Which country recognized the DPRK first?", "", "What is the capital of Australia?", "x" * 2000, "When was the partnership treaty signed?"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(questions) + "\n"))
    assert main(["ask", "--jsonl", "-k", "4"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == len(questions)
    assert rows[0]["found"] and len(rows[0]["results"]) == 4
    assert rows[0]["results"][0]["source"] == "001_8cc3fda830c0b3fc.txt"
    assert "error" in rows[1] and rows[1]["results"] == []
    assert rows[2]["found"] is False and rows[2]["results"] == []
    assert "too long" in rows[3]["error"]
    assert rows[4]["query"] == questions[4] and rows[4]["found"]
    for row in (rows[0], rows[4]):
        for r in row["results"]:
            _check_result(r, env.docs)


def test_off_topic_question_is_not_found(env, capsys):
    assert main(["ask", "--json", "What is the capital of Australia?"]) == 0
    assert json.loads(capsys.readouterr().out) == {"query": "What is the capital of Australia?", "found": False, "verdict": "none",
                                                       "results": []}


@pytest.mark.parametrize(
    "args, message",
    [
        (["ask", "   "], "empty question"),
        (["ask", "-k", "0", "hello there"], "-k must be between 1 and 100"),
        (["ask", "--jsonl", "extra"], "reads questions from standard input"),
    ],
)
def test_usage_errors(env, capsys, args, message):
    assert main(args) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_missing_and_empty_docs_folders(tmp_path, capsys):
    assert main(["index", "--docs", str(tmp_path / "nope"), "--index", str(tmp_path / "i")]) == 1
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["ask", "--docs", str(tmp_path / "empty"), "--index", str(tmp_path / "i"), "hello"]) == 1
    assert "has no .txt, .md, .pdf, .html or .docx files" in capsys.readouterr().err
    assert not (tmp_path / "i").exists()


def test_corrupt_index_is_reported_and_left_alone(seeds_settings, encoder, tmp_path, capsys):
    from qa_bot import engine
    from qa_bot.config import Settings

    settings = Settings(docs=seeds_settings.docs, index=tmp_path / "idx")
    stored, _ = engine.build(settings, progress=False, encoder=encoder)
    part = settings.index / stored.vector_file
    del stored
    part.write_bytes(part.read_bytes()[:500])
    damaged = part.read_bytes()
    assert main(["ask", "--docs", str(settings.docs), "--index", str(settings.index), "Who signed the treaty?"]) == 1
    err = capsys.readouterr().err
    assert "unreadable" in err and f"qa-bot index --docs {settings.docs} --index {settings.index}" in err and err.count("\n") == 1
    assert part.read_bytes() == damaged  # nothing the user had was overwritten
    assert main(["index", "--check", "--docs", str(settings.docs), "--index", str(settings.index)]) == 1
    assert f"{part.name} is truncated" in capsys.readouterr().err
    db = settings.index / "store.sqlite"
    db.write_bytes(b"not a database" * 100)
    assert main(["ask", "--docs", str(settings.docs), "--index", str(settings.index), "Who signed the treaty?"]) == 1
    err = capsys.readouterr().err
    assert "unreadable (store.sqlite" in err and err.count("\n") == 1
    assert main(["index", "-q", "--docs", str(settings.docs), "--index", str(settings.index)]) == 0  # rebuilt
    assert main(["index", "--check", "--docs", str(settings.docs), "--index", str(settings.index)]) == 0
    assert "is OK" in capsys.readouterr().out


def test_index_from_another_model_is_refused(seeds_settings, capsys):
    assert main(["ask", "--index", str(seeds_settings.index), "--docs", str(seeds_settings.docs), "--model", "other-model", "Who signed the treaty?"]) == 1
    err = capsys.readouterr().err
    assert "built with model 'all-MiniLM-L6-v2', not 'other-model'" in err


def test_a_damaged_model_folder_gets_one_line(seeds_settings, tmp_path, capsys, monkeypatch):
    import shutil

    from qa_bot.embed import bundled_model_dir

    model = tmp_path / "model"
    shutil.copytree(bundled_model_dir(), model)
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:4096])  # a download cut short
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    index = tmp_path / "idx"
    assert main(["index", "-q", "--docs", str(seeds_settings.docs), "--index", str(index), "--model", str(model)]) == 1
    err = capsys.readouterr().err
    assert "cannot export model" in err and err.count("\n") == 1 and "Traceback" not in err
    from qa_bot import index as index_mod

    assert index_mod.load(index) is None


def test_ask_refreshes_a_stale_index(docs_copy, tmp_path, capsys, encoder):
    index = tmp_path / "idx"
    args = ["--docs", str(docs_copy), "--index", str(index)]
    assert main(["ask", "--json", *args, "Who signed the treaty?"]) == 0
    capsys.readouterr()
    (docs_copy / "ferry.txt").write_text("The ferry between Vladivostok and Rason carries tourists every summer.\n")
    assert main(["ask", "--json", *args, "Which ferry carries tourists to Rason?"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["results"][0]["source"] == "ferry.txt"


def test_a_model_that_does_not_exist_gets_one_line(docs_copy, tmp_path, capsys):
    assert main(["index", "--docs", str(docs_copy), "--index", str(tmp_path / "idx"), "--model", "nonexistent"]) == 1
    err = capsys.readouterr().err
    assert "no such model 'nonexistent' (offline; models are never downloaded)" in err and err.count("\n") == 1


def _run(*args, stdin=None, env_extra=None, buffered=False):
    env = dict(os.environ, **(env_extra or {}))
    if buffered:  # as a user's shell has it: without PYTHONUNBUFFERED, output waits in buffers until flushed
        env.pop("PYTHONUNBUFFERED", None)
    return subprocess.run([sys.executable, "-m", "qa_bot.cli", *args], input=stdin, capture_output=True, text=True, env=env, timeout=120)


def test_help_and_error_paths_in_a_real_process(tmp_path):
    proc = _run("--help")
    assert proc.returncode == 0 and "index" in proc.stdout and "ask" in proc.stdout
    proc = _run("ask", "--docs", str(tmp_path / "missing"), "--index", str(tmp_path / "i"), "hi there")
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("qa-bot: error:") and "Traceback" not in proc.stderr
    proc = _run("ask", "")
    assert proc.returncode == 1 and "empty question" in proc.stderr
    proc = _run("ask", "--index", __file__, "hello there")
    assert proc.returncode == 1 and "is not a folder" in proc.stderr and "Traceback" not in proc.stderr
    proc = _run("index", env_extra={"QA_BOT_THRESHOLD": "abc"})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr


def test_a_finished_ask_exits_at_once_with_its_answer_whole(retriever, seeds_settings):
    """`ask` ends without the interpreter's teardown (cli._exit_at_once): the answer is flushed whole
    to a pipe, the exit status is kept, and a reader that goes away early costs no traceback."""
    where = ["--docs", str(seeds_settings.docs), "--index", str(seeds_settings.index)]
    proc = _run("ask", "--json", "-k", "5", *where, "Where did Kim Jong Un meet Putin in 2019?", buffered=True)
    assert proc.returncode == 0 and proc.stderr == ""
    out = json.loads(proc.stdout)
    assert len(out["results"]) == 5 and out["verdict"] == "answered"
    lines = "\n".join(["Where did Kim Jong Un meet Putin in 2019?", "Which country recognized the DPRK first?"] * 20)
    proc = _run("ask", "--jsonl", "-k", "3", *where, stdin=lines + "\n", buffered=True)
    assert proc.returncode == 0 and [len(json.loads(line)["results"]) for line in proc.stdout.splitlines()] == [3] * 40
    reader = subprocess.Popen([sys.executable, "-m", "qa_bot.cli", "ask", "--jsonl", *where], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    reader.stdout.close()  # the reader of the answers is gone before they are written
    _, err = reader.communicate((lines + "\n").encode(), timeout=120)
    assert reader.returncode == 0 and b"Traceback" not in err
    closed = subprocess.run([sys.executable, "-m", "qa_bot.cli", "ask", *where, "Where did Kim Jong Un meet Putin?"],
                            stdout=None, stderr=subprocess.PIPE, timeout=120, pass_fds=(), close_fds=True,
                            preexec_fn=lambda: os.close(1))  # started with stdout closed (`>&-`)
    assert closed.returncode == 0 and b"Traceback" not in closed.stderr


def test_a_refresh_keeps_the_backend_the_index_was_built_with(docs_copy, tmp_path, capsys, encoder):
    from qa_bot import engine
    from qa_bot import index as index_mod
    from qa_bot.config import Settings

    settings = Settings(docs=docs_copy, index=tmp_path / "idx", backend="torch")
    engine.build(settings, progress=False, encoder=encoder)
    (docs_copy / "ferry.txt").write_text("The ferry between Vladivostok and Rason carries tourists every summer.\n")
    assert main(["ask", "--json", "--docs", str(docs_copy), "--index", str(settings.index), "Which ferry goes to Rason?"]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["source"] == "ferry.txt"
    stored = index_mod.load(settings.index)
    assert stored.extra["backend"] == "torch" and any(p.source == "ferry.txt" for p in stored.passages)


@pytest.mark.parametrize("env, value, message", [
    ("QA_BOT_WATCH_INTERVAL", "soon", "QA_BOT_WATCH_INTERVAL='soon' is not a finite number"),
    ("QA_BOT_WATCH_INTERVAL", "0", "QA_BOT_WATCH_INTERVAL='0' must be at least 0.5"),
    ("QA_BOT_WATCH", "maybe", "QA_BOT_WATCH='maybe' must be 1 or 0"),
])
def test_bad_watch_settings_are_one_line_before_loading(tmp_path, monkeypatch, capsys, env, value, message):
    monkeypatch.setenv(env, value)
    assert main(["repl", "--watch", "--docs", str(tmp_path / "nope"), "--index", str(tmp_path / "i")]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert not (tmp_path / "i").exists()


def test_a_regular_install_carries_the_data_files_beside_the_code(tmp_path):
    """A wheel (`pip install .`, not editable) holds the committed models and the multilingual
    background sentences and vectors: without them a Russian question ended in a traceback."""
    import shutil
    import zipfile

    root, src = Path(__file__).resolve().parent.parent, tmp_path / "src"
    shutil.copytree(root / "qa_bot", src / "qa_bot", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, src / name)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                           str(tmp_path / "out"), str(src)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = (tmp_path / "out").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data = {f"qa_bot/{p.name}" for p in (root / "qa_bot").iterdir() if p.suffix in (".json", ".txt", ".npz")}
    assert {"qa_bot/background.txt", "qa_bot/background_e5.npz", "qa_bot/rerank_model.json"} <= data
    assert data <= names, data - names
