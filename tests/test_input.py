"""Hostile input and hostile documents at the CLI and REPL: bad bytes, bad settings, escape sequences, history."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from rich.console import Console

from qa_bot.cli import main
from qa_bot.config import PROJECT_ROOT, history_path
from qa_bot.render import safe_text
from qa_bot.repl import Session

ESCAPES = ("\x1b", "\x9b", "\x9d", "\x07", "\u202e")


def _env(settings, **extra) -> dict:
    env = dict(os.environ, QA_BOT_DOCS=str(settings.docs), QA_BOT_INDEX=str(settings.index), PYTHONPATH=str(PROJECT_ROOT))
    env.update(extra)
    return env


def _cli(args: list, env: dict, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """`qa-bot` as a real process with byte-level argv and stdin/stdout."""
    return subprocess.run([sys.executable, "-m", "qa_bot.cli", *args], input=stdin, capture_output=True, env=env, timeout=180)


def _one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    err = proc.stderr.decode("utf-8")
    assert proc.returncode == 1, err
    assert "Traceback" not in err and err.count("\n") == 1 and err.startswith("qa-bot: error:"), err
    for needle in needles:
        assert needle in err, err
    return err


# --------------------------------------------------------------------------- bad bytes


def test_invalid_utf8_in_argv_answers_in_every_mode(seeds_settings, retriever):
    env = _env(seeds_settings)
    question = "Where did Kim Jong Un meet Putin in 2019? \xff\xfe caf\xe9".encode("latin-1")
    for mode in ("hybrid", "bm25"):
        proc = _cli(["ask", "--json", "--mode", mode, question], env)
        assert proc.returncode == 0, proc.stderr.decode()
        out = proc.stdout.decode("utf-8")  # strict: the JSON is valid UTF-8
        record = json.loads(out)
        assert "\ufffd" in record["query"] and record["query"].startswith("Where did Kim Jong Un meet Putin")
        assert record["found"] and record["results"][0]["source"] == "004_6e374db3219750da.txt"
    proc = _cli(["ask", question], env)
    assert proc.returncode == 0 and "Vladivostok" in proc.stdout.decode("utf-8")
    assert b"Traceback" not in proc.stderr


def test_jsonl_stays_aligned_over_bad_bytes(seeds_settings, retriever):
    lines = [b"Which country recognized the DPRK first?", b"\xff\xfe\xfd", b"", b"Putin \xc3\x28 Vladivostok 2019 meeting\r",
             b"x" * 1500, b"\x1b]0;title\x07When was the partnership treaty signed?"]
    proc = _cli(["ask", "--jsonl", "-k", "1"], _env(seeds_settings), stdin=b"\n".join(lines) + b"\n")
    assert proc.returncode == 0, proc.stderr.decode()
    rows = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]
    assert len(rows) == len(lines)
    assert rows[0]["results"][0]["source"] == "001_8cc3fda830c0b3fc.txt"
    assert rows[1]["query"] == "\ufffd\ufffd\ufffd" and "error" not in rows[1]
    assert "empty question" in rows[2]["error"]
    assert "\ufffd" in rows[3]["query"] and "\r" not in rows[3]["query"]
    assert "too long" in rows[4]["error"]
    assert rows[5]["found"] and "\x1b" not in rows[5]["query"]


def test_piped_repl_survives_bad_bytes(seeds_settings, retriever):
    stdin = b"\xff\xfe\n:k 1\n\x9b31mWhere did Kim Jong Un meet Putin in 2019? \xe9\n:quit\n"
    proc = _cli(["repl"], _env(seeds_settings), stdin=stdin)
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode("utf-8")
    assert "004_6e374db3219750da.txt:5" in out and "Traceback" not in proc.stderr.decode()


# --------------------------------------------------------------------------- --json errors and settings


@pytest.mark.parametrize("question, message", [("   ", "empty question"), ("y" * 1200, "too long")])
def test_ask_json_errors_are_json_on_stdout(env_cli, capsys, question, message):
    assert main(["ask", "--json", question]) == 1
    captured = capsys.readouterr()
    record = json.loads(captured.out)
    assert set(record) == {"query", "error"} and message in record["error"]
    assert record["query"] == question.strip()
    assert message in captured.err and captured.err.count("\n") == 1


@pytest.fixture
def env_cli(seeds_settings, monkeypatch, retriever):
    monkeypatch.setenv("QA_BOT_DOCS", str(seeds_settings.docs))
    monkeypatch.setenv("QA_BOT_INDEX", str(seeds_settings.index))
    return seeds_settings


@pytest.mark.parametrize(
    "args, env, needles",
    [
        (["ask", "--threshold", "nan", "hello there"], {}, ("--threshold", "finite")),
        (["ask", "--threshold", "inf", "hello there"], {}, ("--threshold", "finite")),
        (["ask", "--threshold=-inf", "hello there"], {}, ("--threshold", "finite")),
        (["ask", "hello there"], {"QA_BOT_THRESHOLD": "abc"}, ("QA_BOT_THRESHOLD", "'abc'")),
        (["ask", "hello there"], {"QA_BOT_THRESHOLD": "nan"}, ("QA_BOT_THRESHOLD",)),
        (["ask", "hello there"], {"QA_BOT_MODE": "fuzzy"}, ("QA_BOT_MODE", "'fuzzy'")),
        (["index"], {"QA_BOT_BACKEND": "gpu"}, ("QA_BOT_BACKEND", "'gpu'")),
    ],
)
def test_bad_settings_name_their_source_in_one_line(tmp_path, args, env, needles):
    base = {"QA_BOT_DOCS": str(tmp_path / "nope"), "QA_BOT_INDEX": str(tmp_path / "i"), "PYTHONPATH": str(PROJECT_ROOT)}
    proc = _cli(args, dict(os.environ, **base, **env))
    _one_line_error(proc, "bad setting", *needles)


@pytest.mark.parametrize(
    "env, needles",
    [
        ({"QA_BOT_RATE_LIMIT": "abc"}, ("QA_BOT_RATE_LIMIT", "'abc'")),
        ({"QA_BOT_RATE_LIMIT": "0"}, ("QA_BOT_RATE_LIMIT",)),
        ({"QA_BOT_STARTUP_TIMEOUT": "soon"}, ("QA_BOT_STARTUP_TIMEOUT",)),
        ({"QA_BOT_PORT": "http"}, ("QA_BOT_PORT",)),
        ({"QA_BOT_ALLOWED_IDS": "1,me"}, ("QA_BOT_ALLOWED_IDS",)),
        ({"QA_BOT_WEBHOOK_URL": "http://example.org/hook", "QA_BOT_WEBHOOK_SECRET": "no spaces allowed"}, ("QA_BOT_WEBHOOK_SECRET",)),
        ({"QA_BOT_TELEGRAM_API_URL": "ftp://example.org/bot"}, ("--api-url",)),
    ],
)
def test_bad_telegram_settings_never_crash(tmp_path, env, needles):
    base = {"TELEGRAM_BOT_TOKEN": "123456789:AAEhBP0av28jLkPLFhO5bRw9Qs3Yhkp2vXo", "QA_BOT_INDEX": str(tmp_path / "i"),
            "QA_BOT_DOCS": str(tmp_path / "nope"), "PYTHONPATH": str(PROJECT_ROOT), "XDG_STATE_HOME": str(tmp_path / "state")}
    proc = _cli(["telegram"], dict(os.environ, **base, **env))
    err = _one_line_error(proc, *needles)
    assert "AAEhBP0av28jLkPLFhO5bRw9Qs3Yhkp2vXo" not in err


# --------------------------------------------------------------------------- terminal safety


def test_safe_text_strips_escape_sequences_and_keeps_the_text():
    assert safe_text("a\x1b]0;pwned\x07b") == "ab"  # window title
    assert safe_text("x\x1b[8mhidden\x1b[0my") == "xhiddeny"  # concealed text shown plainly
    assert safe_text("c\x1b]52;c;ZXZpbA==\x1b\\d") == "cd"  # OSC 52 clipboard write
    assert safe_text("e\x9b31mf\x9d0;t\x9cg") == "efg"  # 8-bit CSI and OSC
    assert safe_text("open \x1b]no end") == "open no end"  # an unterminated string loses only its introducer
    assert safe_text("abc\u202edcba\u2066x\u2069") == "abcdcbax"  # bidi overrides and isolates
    assert safe_text("tab\there\nnext\r\x00\x7f") == "tab\there\nnext"
    assert safe_text("caf\udce9 日本 Ünïcödé") == "caf\ufffd 日本 Ünïcödé"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, encoder):
    """A folder whose file name, title and text carry escape sequences, indexed."""
    from qa_bot import engine
    from qa_bot.config import Settings

    root = tmp_path_factory.mktemp("hostile")
    docs = root / "docs"
    docs.mkdir()
    name = "evil\x1b]0;owned\x07\x1b[8m.txt"
    (docs / name).write_text(
        "\x1b]0;Window title hijack\x07Harbour Report \x1b[8mhidden\x1b[0m\n\n"
        "The ferry \x1b]52;c;cm0gLXJmIH4=\x07to Rason leaves the harbour every morning at seven\x1b[2J, said the port \u202eauthority.\n\n"
        "Fishing boats return to the harbour at dusk \x9b31mwith their catch of squid.\n", encoding="utf-8")
    settings = Settings(docs=docs, index=root / "index")
    engine.build(settings, progress=False, encoder=encoder)
    return settings


def _no_escapes(text: str) -> None:
    for bad in ESCAPES:
        assert bad not in text, repr(text)


def test_ask_and_repl_and_sources_never_write_escape_sequences(hostile, monkeypatch, capsys):
    monkeypatch.setenv("QA_BOT_DOCS", str(hostile.docs))
    monkeypatch.setenv("QA_BOT_INDEX", str(hostile.index))
    assert main(["ask", "-k", "3", "When does the ferry to Rason leave the harbour?"]) == 0
    out = capsys.readouterr().out
    _no_escapes(out)
    assert "leaves the harbour every morning at seven" in out and "evil0;owned" not in out and "evil.txt" in out

    from qa_bot import engine

    retriever = engine.open_retriever(hostile, progress=False)
    buffer = io.StringIO()
    session = Session(retriever, Console(file=buffer, width=100, highlight=False))
    for line in (":sources", "When does the ferry to Rason leave the harbour?", ":k \x1b]0;x\x07", ":\x1b[2Jbogus"):
        session.handle(line)
    text = buffer.getvalue()
    _no_escapes(text)
    assert "evil.txt  (" in text and "at seven" in text and "unknown command" in text


def test_eval_output_is_sanitised(hostile, tmp_path, capsys):
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"question": "\x1b]0;t\x07When do fishing boats return?", "answerable": True,
                                     "gold": [{"source": "other.txt", "line": 1}]}) + "\n", encoding="utf-8")
    assert main(["eval", "--docs", str(hostile.docs), "--index", str(hostile.index), "--questions", str(questions)]) == 0
    out = capsys.readouterr().out
    _no_escapes(out)
    assert "When do fishing boats return?" in out


def test_piped_output_has_no_padding_or_hard_wraps(seeds_settings, retriever):
    proc = _cli(["ask", "-k", "3", "Where did Kim Jong Un meet Putin in 2019?"], _env(seeds_settings))
    out = proc.stdout.decode("utf-8")
    assert proc.returncode == 0 and out.strip()
    assert not [line for line in out.splitlines() if line != line.rstrip()], "trailing spaces in piped output"
    assert any(len(line) > 100 for line in out.splitlines()), "long passages were wrapped at 80 columns"
    assert "\x1b[" not in out


# --------------------------------------------------------------------------- history


def test_history_is_per_index_and_private(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    a, b = history_path(tmp_path / "index-a"), history_path(tmp_path / "index-b")
    assert a != b and a.parent == b.parent == tmp_path / "state" / "qa-bot" / "history"
    assert history_path(tmp_path / "index-a" / ".." / "index-a") == a


def test_help_says_where_history_is(retriever, tmp_path):
    buffer = io.StringIO()
    Session(retriever, Console(file=buffer, highlight=False), history=tmp_path / "h").handle(":help")
    assert f"History of questions: {tmp_path / 'h'}" in buffer.getvalue()
    buffer = io.StringIO()
    Session(retriever, Console(file=buffer, highlight=False)).handle(":help")
    assert "not kept" in buffer.getvalue()


def _on_pty(args: list[str], env: dict, steps: list, timeout: float = 120) -> tuple[bytes, int]:
    """Run `qa-bot ARGS` on a real pseudo-terminal; each step is (condition on the output so far,
    action on the terminal), taken in order. Returns the output and how many steps were taken."""
    import pty
    import select
    import time

    pid, fd = pty.fork()
    if pid == 0:  # the child: qa-bot on the terminal
        os.execve(sys.executable, [sys.executable, "-m", "qa_bot.cli", *args], env)
    output, done, deadline = b"", 0, time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                output += chunk
            if done < len(steps) and steps[done][0](output):
                steps[done][1](fd)
                done += 1
    finally:
        if done < len(steps):
            os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert done == len(steps) and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, output[-3000:]
    return output, done


def _pty_repl(env: dict, *args: str) -> str:
    """Drive `qa-bot repl` on a real pseudo-terminal: ask one question, then leave."""
    def send(data: bytes):
        return lambda fd: os.write(fd, data)

    output, _ = _on_pty(["repl", *args], env, [
        (lambda out: out.count(b"? ") > 0, send(b"Where did Kim Jong Un meet Putin in 2019?\r")),
        (lambda out: out.count(b"? ") > 1 and b"Vladivostok" in out, send(b":help\r")),
        (lambda out: out.count(b"? ") > 2 and b"History of questions" in out, send(b":quit\r")),
    ])
    return output.decode("utf-8", "replace")


def test_real_terminal_repl_keeps_history_per_index_or_none(seeds_settings, retriever, tmp_path):
    env = _env(seeds_settings, XDG_STATE_HOME=str(tmp_path / "state"), TERM="dumb")
    path = tmp_path / "state" / "qa-bot" / "history"
    out = _pty_repl(env)
    files = list(path.iterdir())
    assert len(files) == 1 and "Where did Kim Jong Un meet Putin in 2019?" in files[0].read_text()
    assert files[0].stat().st_mode & 0o077 == 0  # readable by its owner only
    assert str(files[0]) in out.replace("\r\n", "")  # :help names it
    files[0].unlink()
    _pty_repl(env, "--no-history")
    assert list(path.iterdir()) == []


def test_watch_log_lines_are_drawn_above_the_prompt_on_a_real_terminal(tmp_path):
    """`repl --watch`: an update's log line never lands inside the question being typed; the prompt
    and the half-typed question are drawn again below it."""
    docs, index = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    (docs / "a.txt").write_text("The lighthouse keeper rings the bell at dawn.\n", encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), TERM="xterm", QA_BOT_WATCH_INTERVAL="0.5",
               XDG_STATE_HOME=str(tmp_path / "state"))
    assert _cli(["index", "--docs", str(docs), "--index", str(index), "-q"], env).returncode == 0
    after = (lambda out: out.split(b"index updated")[-1])
    output, _ = _on_pty(["repl", "--watch", "--docs", str(docs), "--index", str(index)], env, [
        (lambda out: b"leave" in out and out.endswith(b"\x1b[?25h"),  # the prompt is drawn
         lambda fd: os.write(fd, b"who rings the bell")),  # typed, not yet sent
        (lambda out: b"rings the bell" in out,
         lambda fd: (docs / "b.txt").write_text("The walrus sleeps on the northern rocks.\n", encoding="utf-8")),
        (lambda out: b"index updated" in out and b"who rings the bell" in after(out), lambda fd: os.write(fd, b"\r")),
        (lambda out: b"lighthouse" in after(out), lambda fd: os.write(fd, b":quit\r")),
    ], timeout=60)
    before = output.split(b"index updated")[0]
    typed = before[before.rfind(b"rings the bell"):]
    assert b"\x1b[J" in typed, typed  # the half-typed line is erased before the log line, then drawn again
