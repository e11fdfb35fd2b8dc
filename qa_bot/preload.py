"""Start the slow parts of a cold start at once, so that they overlap the imports and opening the index.

A cold `ask` spends about 0.2 s creating the ONNX session and tokenizer, and about as long
importing numpy, FAISS and the search code and opening the index; on two cores both run at once.
A thread loads the export that `onnx/record.json` beside the index names; `encoders.query_encoder`
takes it only when the index records that same export, and otherwise loads the right one itself.

The docs folder's fingerprint (the no-change check: one `stat` per document, 0.2-0.3 s at 50,000
files) is computed by a forked child process meanwhile, which holds no GIL of ours; `index.is_stale`
takes it. (Scanning in another thread instead was slower: 1.13 s against 0.95 s, median of 7, the
scan's Python work between its stat calls holding the GIL.)
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from .forked import Forked, fork_call

# qa_bot.documents (the fingerprint and its UNKNOWN) is imported in the child and when the digest
# is read, not here: importing the package first would delay the fork and the encoder thread (30 ms).


class Preload:
    """The ONNX question encoder of the index at `index_path`, loading in a background thread, and
    the fingerprint of the docs folder (when given), computed by a child process meanwhile."""

    def __init__(self, index_path: Path, model: str, docs: Path | None = None):
        self.path = Path(index_path)
        self.model = model
        self.record: dict | None = None
        self._encoder = None
        self.docs = Path(docs) if docs is not None else None
        self._scan = _fork_digest(self.docs) if self.docs is not None else None  # before the thread starts
        # not a daemon: an early exit waits the fraction of a second for it instead of
        # tearing the interpreter down under a C++ constructor
        self._thread = threading.Thread(target=self._load, name="qa-bot-preload")
        self._thread.start()

    def _load(self) -> None:
        try:
            record = json.loads((self.path / "onnx" / "record.json").read_text(encoding="utf-8"))
            if not isinstance(record, dict):
                return
            from .encoders import export_on_disk, onnx_encoder

            if export_on_disk(self.path, record):
                self._encoder = onnx_encoder(self.model, self.path, record, threads=1)  # as query_encoder loads it
                self.record = record
        except Exception:  # noqa: BLE001 - a guess that failed: the normal path loads it and says what is wrong
            self._encoder = None

    def take(self, index_path: Path, model: str, record: dict | None):
        """The loaded encoder when it is the one the index records (at most once), else None."""
        self._thread.join()
        encoder, self._encoder = self._encoder, None
        same = (encoder is not None and record is not None and record == self.record and model == self.model
                and Path(index_path).resolve() == self.path.resolve())
        return encoder if same else None

    def digest(self, docs: Path):
        """`fingerprint.quick_digest(docs)` as the child found it at start (at most once), else
        fingerprint.UNKNOWN (compute it now)."""
        from .documents.fingerprint import UNKNOWN

        scan, self._scan = self._scan, None
        if scan is None or Path(docs) != self.docs:
            if scan is not None:
                scan.close(read=False)
            return UNKNOWN
        got = scan.result()
        if got == "none":
            return None  # links or unreadable entries: walk the folder fully
        return got if got is not None and got.startswith("v2:") else UNKNOWN  # no answer: compute it now

    def release(self) -> None:
        """Drop an encoder nobody took (the index was rebuilt with another export, or not opened)."""
        self._thread.join()
        self._encoder = None
        if self._scan is not None:
            self._scan.close(read=False)
            self._scan = None


def _fork_digest(docs: Path) -> Forked | None:
    """Start the child (POSIX, before any thread of ours exists); None where fork is not available."""

    def digest() -> str:
        from .documents.fingerprint import quick_digest

        got = quick_digest(docs)
        return "none" if got is None else got

    return fork_call(digest)
