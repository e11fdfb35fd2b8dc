"""The interactive loop: prompt_toolkit for editing and history, rich for answers.

When standard input is not a terminal it reads one question per line, so it can be piped.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .config import Settings
from .errors import QaBotError

HELP = """Type a question and press Enter. Commands:
  :help      this help
  :k N       passages per answer (1-10)
  :sources   the indexed documents and their paragraph counts
  :quit      leave (or Ctrl-D)"""


def _history_path() -> Path:
    state = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "qa-bot"
    state.mkdir(parents=True, exist_ok=True)
    return state / "history"


class Session:
    """REPL state and command handling, separate from terminal I/O so it can be driven by lines."""

    def __init__(self, retriever, console, k: int = 3):
        self.retriever = retriever
        self.console = console
        self.k = k

    def handle(self, line: str) -> bool:
        """Handle one input line; False means leave."""
        from .render import rich_answer

        text = line.strip()
        if not text:
            return True
        if text.startswith(":"):
            cmd, _, arg = text[1:].partition(" ")
            cmd = cmd.lower()
            if cmd in ("q", "quit", "exit"):
                return False
            if cmd in ("h", "help", "?"):
                self.console.print(HELP, markup=False)
            elif cmd == "k":
                try:
                    value = int(arg)
                    if not 1 <= value <= 10:
                        raise ValueError
                except ValueError:
                    self.console.print("usage: :k N  (N from 1 to 10)", markup=False)
                else:
                    self.k = value
                    self.console.print(f"showing {value} passage(s) per answer", markup=False)
            elif cmd == "sources":
                for source, count in self.retriever.index.sources().items():
                    self.console.print(f"{source}  ({count} paragraphs)", markup=False)
            else:
                self.console.print(f"unknown command :{cmd}; type :help", markup=False)
            return True
        from .engine import refreshed

        self.retriever = refreshed(self.retriever)  # a newer index generation, between questions only
        try:
            answer = self.retriever.ask(text, k=self.k)
        except QaBotError as exc:
            self.console.print(f"error: {exc}", markup=False, style="red")
            return True
        self.console.print(rich_answer(answer))
        return True


def run_repl(settings: Settings, quiet: bool = False) -> int:
    from rich.console import Console

    from . import engine

    console = Console(highlight=False)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    retriever = engine.open_retriever(settings, progress=not quiet, notify=None if quiet else (lambda m: console.print(m, markup=False, style="dim")))
    session = Session(retriever, console, k=settings.k)
    if not interactive:
        for line in sys.stdin:
            if not session.handle(line):
                break
        return 0

    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    try:
        history = FileHistory(str(_history_path()))
    except OSError:
        history = InMemoryHistory()
    prompt = PromptSession(history=history)
    n_docs = len(retriever.index.sources())
    console.print(
        f"qa-bot: {len(retriever.passages)} passages from {n_docs} documents ({settings.mode} ranking). "
        "Ask a question; :help for commands, Ctrl-D to leave.",
        markup=False,
        style="dim",
    )
    while True:
        try:
            line = prompt.prompt("? ")
        except KeyboardInterrupt:
            break  # Ctrl-C leaves cleanly too
        except EOFError:
            break
        if not session.handle(line):
            break
    return 0
