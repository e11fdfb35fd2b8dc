"""`--watch`: a daemon thread that polls the docs folder and updates the index when it changes.

It only writes new index generations (under the writer lock, like `qa-bot index`); the front end
switches to them between questions with `engine.refreshed`, so no answer ever sees a change mid-way.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field

from .config import Settings, env_number
from .errors import QaBotError

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 5.0
MIN_INTERVAL = 0.5


def watch_settings(flag: bool | None) -> tuple[bool, float]:
    """(watch or not, poll interval in seconds) from --watch, QA_BOT_WATCH and QA_BOT_WATCH_INTERVAL.

    A bad value is one QaBotError line naming the variable, before anything is loaded.
    """
    raw = os.environ.get("QA_BOT_WATCH", "").strip().lower()
    if raw not in ("", "0", "1", "true", "false", "yes", "no", "on", "off"):
        raise QaBotError(f"bad setting: QA_BOT_WATCH={raw!r} must be 1 or 0")
    enabled = bool(flag) or raw in ("1", "true", "yes", "on")
    try:
        interval = env_number("QA_BOT_WATCH_INTERVAL", float, MIN_INTERVAL)
    except ValueError as exc:
        raise QaBotError(f"bad setting: {exc} (seconds between checks of the docs folder)") from None
    return enabled, DEFAULT_INTERVAL if interval is None else float(interval)


@dataclass
class Watcher:
    """Polls `settings.docs` every `interval` seconds; when it is stale, runs `engine.build` in this thread.

    Says one line per update or per new failure (never a traceback) and keeps polling after failures.
    """

    settings: Settings
    interval: float = DEFAULT_INTERVAL
    updates: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _last_error: str | None = None

    def start(self) -> "Watcher":
        self._thread = threading.Thread(target=self._run, name="qa-bot-watch", daemon=True)
        self._thread.start()
        log.info("watching %s for changes every %g s", self.settings.docs, self.interval)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to stop and wait a little; an update in progress is safe to abandon (generations)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        stored = None  # this thread's own view of the index: the Retriever is never touched here
        while not self._stop.wait(self.interval):
            try:
                stored = self.check(stored)
                self._last_error = None
            except Exception as exc:  # noqa: BLE001  one line, then keep watching
                message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                if not isinstance(exc, (QaBotError, OSError)):
                    message = f"{type(exc).__name__}: {message}"
                if message != self._last_error:  # a lasting problem is said once, not every few seconds
                    log.warning("watch: index not updated: %s (still watching)", message)
                self._last_error = message
                stored = None

    def check(self, stored):
        """One poll: reload the newest generation when another writer published one, update when stale."""
        from . import engine
        from . import index as index_mod

        settings = self.settings
        if stored is None or stored.newer():
            stored = index_mod.load(settings.index, settings.docs)
        if not settings.docs.exists():
            raise QaBotError(f"docs folder {settings.docs} not found")
        if stored is not None and not index_mod.is_stale(stored, settings.docs, settings.follow_links):
            return stored
        if self._stop.is_set():
            return stored
        stored, report = engine.build(settings, progress=False)
        if report.published:
            self.updates += 1
            log.info("documents changed; index updated: %d passages", len(stored))
        return stored
