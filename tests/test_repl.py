"""The REPL: commands and answers through a Session, and a real piped process."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from rich.console import Console

from qa_bot.repl import Session


def _session(retriever):
    out = io.StringIO()
    return Session(retriever, Console(file=out, width=100, highlight=False), k=3), out


def test_commands_and_answers(retriever):
    session, out = _session(retriever)
    assert session.handle(":help")
    assert ":sources" in out.getvalue()
    assert session.handle(":k 2") and session.k == 2
    assert session.handle(":k 50") and session.k == 2
    assert "usage: :k N" in out.getvalue()
    session.handle(":sources")
    assert "002_a8a3f57de7ba005e.txt  (32 paragraphs)" in out.getvalue()  # 11 article, 21 navigation
    out.truncate(0)
    session.handle("Which country recognized the DPRK first?")
    text = out.getvalue()
    assert "001_8cc3fda830c0b3fc.txt:9" in text and "2." in text and "3." not in text
    session.handle("What is the capital of Australia?")
    assert "Nothing relevant found" in out.getvalue()
    session.handle(":bogus")
    assert "unknown command" in out.getvalue()
    assert session.handle(":quit") is False


def test_piped_repl_process(seeds_settings):
    env = dict(os.environ, QA_BOT_DOCS=str(seeds_settings.docs), QA_BOT_INDEX=str(seeds_settings.index))
    proc = subprocess.run(
        [sys.executable, "-m", "qa_bot.cli", "repl"],
        input="Where did Kim Jong Un meet Putin in 2019?\n:k 1\n\nWhen was the partnership treaty signed?\n:quit\nnever asked\n",
        capture_output=True, text=True, env=env, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert "004_6e374db3219750da.txt:5" in proc.stdout
    assert "June 19" in proc.stdout
    assert "never asked" not in proc.stdout
    assert "Traceback" not in proc.stderr


def test_watcher_says_a_lasting_failure_once_and_keeps_watching(tmp_path, caplog):
    """A docs folder that vanishes is one warning line, not one per poll and never a traceback; stop() ends the thread."""
    import logging
    import time

    from qa_bot.config import DEFAULT_MODEL, Settings
    from qa_bot.watch import Watcher

    caplog.set_level(logging.INFO, logger="qa_bot.watch")
    watcher = Watcher(Settings(docs=tmp_path / "gone", index=tmp_path / "index", model=DEFAULT_MODEL), interval=0.5).start()
    time.sleep(2.2)
    assert watcher._thread.is_alive()
    watcher.stop()
    assert not watcher._thread.is_alive()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"watch: index not updated: docs folder {tmp_path / 'gone'} not found (still watching)"]
    assert not any(r.exc_info for r in caplog.records)


def test_a_repl_lets_old_generations_go_so_they_are_pruned(docs_copy, tmp_path, encoder, monkeypatch):
    """The REPL switches to each new generation between questions; nothing of its own may keep the first
    one (its reader lock would keep that generation's files for as long as the REPL runs)."""
    import io
    import sys

    from qa_bot import engine
    from qa_bot.config import Settings
    from qa_bot.repl import run_repl

    settings = Settings(docs=docs_copy, index=tmp_path / "idx")
    engine.build(settings, progress=False, encoder=encoder)

    class Lines(io.StringIO):
        """Piped questions; before each, the folder changes and a writer publishes a new generation."""

        def __iter__(self):
            for i in range(4):
                (docs_copy / "note.txt").write_text(f"A new note {i}.\n\nThe embassy phone number is {i}.\n")
                engine.build(settings, progress=False, encoder=encoder)
                yield "who spoke after the ambassador?\n"

    monkeypatch.setattr(sys, "stdin", Lines())
    assert run_repl(settings, quiet=True, history=False, watch=False) == 0
    generations = sorted(int(p.name) for p in (settings.index / "generations").iterdir() if p.name.isdigit())
    assert 1 not in generations and 2 not in generations, generations
