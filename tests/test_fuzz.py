"""Property tests: any bytes as a question, in every front end, give an answer or a one-line error.

Example counts stay small so the suite stays fast; the model and index are the session's.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from qa_bot.cli import _ask_jsonl
from qa_bot.config import PROJECT_ROOT
from qa_bot.errors import QaBotError
from qa_bot.render import to_json
from qa_bot.repl import Session
from qa_bot.search import Retriever

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
# what a question can be: argv bytes as Python decodes them (surrogateescape), or any code point at all
questions = st.one_of(
    st.binary(max_size=300).map(lambda b: b.decode("utf-8", "surrogateescape")),
    st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=200),
    st.sampled_from(["Where did Kim Jong Un meet Putin in 2019?", "x" * 1001, "\x1b]52;c;AAAA\x07 Putin", "\u202e\udcff"]),
)
line_bytes = st.binary(max_size=120).map(lambda b: b.replace(b"\n", b" "))


def _answer_or_one_line_error(retriever, question: str) -> None:
    try:
        answer = retriever.ask(question, k=2)
    except QaBotError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    json.loads(to_json(answer).encode("utf-8"))  # encodable and valid JSON
    assert answer.query.encode("utf-8")


@FUZZ
@given(question=questions)
def test_retriever_ask_any_question(retriever, question):
    _answer_or_one_line_error(retriever, question)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=questions)
def test_bm25_ask_any_question(retriever, question):
    bm25 = Retriever(retriever.index, retriever.encoder, mode="bm25")
    _answer_or_one_line_error(bm25, question)


@FUZZ
@given(line=questions)
def test_repl_session_any_line(retriever, line):
    out = io.StringIO()
    session = Session(retriever, Console(file=out, width=100, highlight=False))
    assert session.handle(line) in (True, False)
    text = out.getvalue()
    assert "\x1b" not in text and not any(0xD800 <= ord(c) <= 0xDFFF for c in text)
    text.encode("utf-8")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(line_bytes, min_size=1, max_size=8))
def test_jsonl_in_process_stays_aligned(retriever, lines):
    data = b"\n".join(lines) + b"\n"
    stdin, stdout = sys.stdin, sys.stdout
    sys.stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    sys.stdout = out = io.StringIO()
    try:
        assert _ask_jsonl(retriever, 2) == 0
    finally:
        sys.stdin, sys.stdout = stdin, stdout
    rows = [json.loads(row) for row in out.getvalue().encode("utf-8").decode("utf-8").splitlines()]
    assert len(rows) == len(lines)
    for row, raw in zip(rows, lines):
        assert ("error" in row) or ("found" in row)
        assert row["query"] == " ".join(raw.decode("utf-8", "replace").split()) or "error" not in row


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(line_bytes, min_size=3, max_size=12))
def test_jsonl_process_stays_aligned(seeds_settings, retriever, lines):
    env = dict(os.environ, QA_BOT_DOCS=str(seeds_settings.docs), QA_BOT_INDEX=str(seeds_settings.index), PYTHONPATH=str(PROJECT_ROOT))
    proc = subprocess.run([sys.executable, "-m", "qa_bot.cli", "ask", "--jsonl", "-k", "1"], input=b"\n".join(lines) + b"\n",
                          capture_output=True, env=env, timeout=120)
    assert proc.returncode == 0 and b"Traceback" not in proc.stderr, proc.stderr.decode("utf-8", "replace")
    rows = [json.loads(row) for row in proc.stdout.decode("utf-8").splitlines()]
    assert len(rows) == len(lines)
    assert all("error" in row or "found" in row for row in rows)
