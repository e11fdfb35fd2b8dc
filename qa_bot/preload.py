"""Start loading the question encoder at once, so that it overlaps the imports and opening the index.

A cold `ask` spends about 0.2 s creating the ONNX session and tokenizer, and about as long
importing numpy, FAISS and the search code and opening the index; on two cores both run at once.
The thread loads the export that `onnx/record.json` beside the index names; `encoders.query_encoder`
takes it only when the index records that same export, and otherwise loads the right one itself.
(Scanning the docs folder in another thread as well was slower at 50,000 files: 1.13 s against
0.95 s, median of 7, the scan's Python work between its stat calls holding the GIL.)
"""

from __future__ import annotations

import json
import threading
from pathlib import Path


class Preload:
    """The ONNX question encoder of the index at `index_path`, loading in a background thread."""

    def __init__(self, index_path: Path, model: str):
        self.path = Path(index_path)
        self.model = model
        self.record: dict | None = None
        self._encoder = None
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

    def release(self) -> None:
        """Drop an encoder nobody took (the index was rebuilt with another export, or not opened)."""
        self._thread.join()
        self._encoder = None
