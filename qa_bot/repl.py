"""The interactive loop: prompt_toolkit for editing and history, rich for answers.

When standard input is not a terminal it reads one question per line, so it can be piped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from .config import Settings, history_path
from .errors import QaBotError

HELP = """Type a question and press Enter. Commands:
  :help      this help
  :k N       passages per answer (1-10)
  :sources   the indexed documents and their paragraph counts
  :quit      leave (or Ctrl-D)"""


def input_lines(stream=None) -> Iterator[str]:
    """Lines of a stream without their line ends, split on \\n only and decoded one by one.

    Bytes that are not UTF-8 become U+FFFD in their own line, so one bad line never stops or
    shifts the rest. Text streams (no .buffer) are read as they are.
    """
    stream = sys.stdin if stream is None else stream
    raw = getattr(stream, "buffer", None)
    if raw is None:
        for line in stream:
            yield line[:-1] if line.endswith("\n") else line
        return
    for line in raw:
        yield line.decode("utf-8", errors="replace").removesuffix("\n")


def open_history(path: Path):
    """A prompt_toolkit FileHistory at `path`, readable by its owner only; in memory if that fails."""
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600))
        return FileHistory(str(path))
    except OSError:
        return InMemoryHistory()


class Session:
    """REPL state and command handling, separate from terminal I/O so it can be driven by lines."""

    def __init__(self, retriever, console, k: int = 3, history: Path | None = None):
        self.retriever = retriever
        self.console = console
        self.k = k
        self.history = history  # where questions are kept; None: nowhere

    def say(self, text: str, **style) -> None:
        """One line of plain text (document names, user input), stripped of escape sequences."""
        from .render import safe_text

        self.console.print(safe_text(text), markup=False, soft_wrap=True, **style)

    def handle(self, line: str) -> bool:
        """Handle one input line; False means leave."""
        from .render import print_answer

        text = line.strip()
        if not text:
            return True
        if text.startswith(":"):
            cmd, _, arg = text[1:].partition(" ")
            cmd = cmd.lower()
            if cmd in ("q", "quit", "exit"):
                return False
            if cmd in ("h", "help", "?"):
                self.say(HELP)
                self.say(f"History of questions: {self.history}" if self.history
                         else "History of questions: not kept (--no-history or piped input)")
            elif cmd == "k":
                try:
                    value = int(arg)
                    if not 1 <= value <= 10:
                        raise ValueError
                except ValueError:
                    self.say("usage: :k N  (N from 1 to 10)")
                else:
                    self.k = value
                    self.say(f"showing {value} passage(s) per answer")
            elif cmd == "sources":
                for source, count in self.retriever.index.sources().items():
                    self.say(f"{source}  ({count} paragraphs)")
                for source, reason in self.retriever.index.skipped().items():
                    self.say(f"{source}  (skipped: {reason})")
            else:
                self.say(f"unknown command :{cmd}; type :help")
            return True
        from .engine import refreshed, settle

        fresh = refreshed(self.retriever)  # a newer index generation, between questions only
        if fresh is not self.retriever:
            self.retriever = fresh
            settle()
        try:
            answer = self.retriever.ask(text, k=self.k)
        except QaBotError as exc:
            self.say(f"error: {exc}", style="red")
            return True
        print_answer(self.console, answer)
        return True


def run_repl(settings: Settings, quiet: bool = False, history: bool = True, watch: bool | None = None) -> int:
    """`qa-bot repl`: load the index, optionally watch the docs folder, then answer until the input ends."""
    from .preload import Preload

    preload = Preload(settings.index, settings.model, settings.docs)  # the encoder loads while the rest is imported
    try:
        from . import engine
        from .render import console as make_console
        from .render import safe_text
        from .watch import Watcher, watch_settings

        watching, interval = watch_settings(watch)  # a bad setting is refused before the index loads
        console = make_console()
        retriever = engine.open_retriever(settings, progress=not quiet, preload=preload,
                                          notify=None if quiet else (lambda m: console.print(safe_text(m), markup=False,
                                                                                             style="dim")))
    finally:
        preload.release()  # also when the start failed: no child or thread left behind
    engine.settle()
    if watching and not quiet:
        logging.getLogger("qa_bot.watch").setLevel(logging.INFO)  # one line per update, on stderr
    watcher = Watcher(settings, interval).start() if watching else None
    held = [retriever]  # handed over whole: no frame of ours keeps the first generation once the session switches
    del retriever
    try:
        return _loop(settings, held, console, history)
    finally:
        if watcher is not None:
            watcher.stop()


def _loop(settings: Settings, held: list, console, history: bool) -> int:
    """Questions from a terminal prompt, or piped lines; the session switches to newer generations itself
    (`held` holds the retriever, which the session takes: an older generation is then let go, and pruned)."""
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    path = history_path(settings.index) if history and interactive else None
    session = Session(held.pop(), console, k=settings.k, history=path)
    if not interactive:
        for line in input_lines(sys.stdin):
            if not session.handle(line):
                break
        return 0

    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import InMemoryHistory

    prompt = PromptSession(history=open_history(path) if path else InMemoryHistory())
    n_docs = len(session.retriever.index.sources())
    console.print(
        f"qa-bot: {len(session.retriever.passages)} passages from {n_docs} documents ({settings.mode} ranking). "
        "Ask a question; :help for commands, Ctrl-D to leave.",
        markup=False,
        style="dim",
    )
    with _logs_above_the_prompt():
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


@contextlib.contextmanager
def _logs_above_the_prompt():
    """Log lines from other threads (`--watch` updates) are drawn above the prompt, never inside
    the line being typed: the log handlers write through prompt_toolkit's stdout proxy meanwhile."""
    from prompt_toolkit.patch_stdout import StdoutProxy

    proxy = StdoutProxy(raw=True)
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    old = [h.setStream(proxy) for h in handlers]
    try:
        yield
    finally:
        for h, stream in zip(handlers, old):
            h.setStream(stream)
        proxy.close()
