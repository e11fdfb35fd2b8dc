"""What a chat bot must remember across restarts: per-chat settings, rate-limit windows, refusals,
and the recent answers its More / Context buttons point at.

Kept in one SQLite file (stdlib sqlite3, WAL journal) so a restart or a crash loses nothing and
the file can be inspected with any SQLite tool. Knows nothing about Telegram or the index.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

from .errors import QaBotError

SCHEMA = """
CREATE TABLE IF NOT EXISTS chat_settings (chat_id INTEGER PRIMARY KEY, k INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rate_events (user_id INTEGER NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS rate_events_user ON rate_events (user_id, at);
CREATE TABLE IF NOT EXISTS refused (user_id INTEGER PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, question TEXT NOT NULL, k INTEGER NOT NULL,
    shown INTEGER NOT NULL, top_id TEXT, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS answers_at ON answers (at);
"""
ANSWERS_KEPT = 2000  # recent answers whose buttons still work; older ones say "expired"
ANSWER_DAYS = 7.0  # ... and none older than this


class StateStore:
    """Per-chat `k`, per-user question times and the users already refused, in SQLite.

    `path` None keeps everything in memory (tests, one-off runs). Safe to call from any thread.
    """

    def __init__(self, path: Path | None = None):
        self.path = path
        try:
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                if not path.exists():
                    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            self._db = sqlite3.connect(":memory:" if path is None else str(path), check_same_thread=False,
                                       isolation_level=None, timeout=10)
            if path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise QaBotError(f"cannot open the bot's state file {path}: {exc}") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def get_k(self, chat_id: int, default: int) -> int:
        with self._lock:
            row = self._db.execute("SELECT k FROM chat_settings WHERE chat_id = ?", (chat_id,)).fetchone()
        return int(row[0]) if row else default

    def set_k(self, chat_id: int, k: int) -> None:
        with self._lock:
            self._db.execute("INSERT INTO chat_settings (chat_id, k) VALUES (?, ?) "
                             "ON CONFLICT (chat_id) DO UPDATE SET k = excluded.k", (chat_id, k))

    def allow(self, user_id: int, limit: int, window: float, now: float | None = None) -> bool:
        """Record a question from `user_id` unless `limit` were already asked within `window` seconds."""
        now = time.time() if now is None else now
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM rate_events WHERE at <= ?", (now - window,))  # every user's old events: the table stays small
            (count,) = self._db.execute("SELECT COUNT(*) FROM rate_events WHERE user_id = ?", (user_id,)).fetchone()
            if count >= limit:
                return False
            self._db.execute("INSERT INTO rate_events (user_id, at) VALUES (?, ?)", (user_id, now))
            return True

    def put_answer(self, key: str, question: str, k: int, shown: int, top_id: str | None,
                   now: float | None = None) -> None:
        """Remember an answer under its button key; keeps the newest ANSWERS_KEPT of the last ANSWER_DAYS."""
        now = time.time() if now is None else now
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT OR REPLACE INTO answers (key, question, k, shown, top_id, at) VALUES (?, ?, ?, ?, ?, ?)",
                             (key, question, k, shown, top_id, now))
            self._db.execute("DELETE FROM answers WHERE at < ? OR key IN (SELECT key FROM answers ORDER BY at DESC "
                             "LIMIT -1 OFFSET ?)", (now - ANSWER_DAYS * 86400, ANSWERS_KEPT))

    def get_answer(self, key: str) -> tuple[str, int, int, str | None] | None:
        """(question, k, passages shown so far, top passage id) of a remembered answer, or None."""
        with self._lock:
            row = self._db.execute("SELECT question, k, shown, top_id FROM answers WHERE key = ?", (key,)).fetchone()
        return (row[0], int(row[1]), int(row[2]), row[3]) if row else None

    def set_shown(self, key: str, shown: int) -> None:
        with self._lock:
            self._db.execute("UPDATE answers SET shown = ? WHERE key = ?", (shown, key))

    def first_refusal(self, user_id: int) -> bool:
        """True the first time `user_id` is refused, False ever after: a stranger is told once."""
        with self._lock:
            cur = self._db.execute("INSERT OR IGNORE INTO refused (user_id, at) VALUES (?, ?)", (user_id, time.time()))
        return cur.rowcount == 1
