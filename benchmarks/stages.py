"""Where a warm question's time goes, stage by stage, on a kept index.

    python -m benchmarks.stages DIR      # DIR/docs and DIR/index, e.g. from --only scale --keep DIR

Times each call of the retriever's stages (question embedding, vector search, BM25, sentence
similarities, bonuses, re-ranker, verdict) over the benchmark's 200 questions after ten warm-up
asks, and prints the mean per question with the p50 / p99 of the whole ask. Timers only wrap
the calls; the code path is the product's own.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np


def stage_times(root: Path, n: int = 200) -> tuple[dict[str, float], list[float], int]:
    from qa_bot import engine
    from qa_bot import index as index_mod
    from qa_bot.config import Settings
    from qa_bot.search import Retriever

    docs, index = root / "docs", root / "index"
    stored = index_mod.load(index)
    questions = [" ".join(p.text.split()[3:12]) + "?" for p in stored.passages[:n]]
    r = Retriever(stored, engine.query_encoder(stored, Settings(docs=docs, index=index)))
    r.lexical
    engine.settle()  # as the long-running front ends do once the index is open
    spent: dict[str, float] = {}

    def wrap(obj, name: str, label: str) -> None:
        call = getattr(obj, name)

        def timed(*a, **k):
            t = time.perf_counter()
            try:
                return call(*a, **k)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - t

        setattr(obj, name, timed)

    for obj, name, label in ((r.encoder, "encode_query", "question embedding"), (r.index, "search", "vector search"),
                             (r.lexical, "candidates", "BM25 candidates"), (r.lexical, "finish", "BM25 exact scores"),
                             (r, "_dense_parts", "sentence similarities"),
                             (r, "_bonus", "bonuses"), (r, "_rerank", "re-ranker"), (r, "judge", "verdict")):
        wrap(obj, name, label)
    for q in questions[:10]:
        r.ask(q)
    spent.clear()
    lat = []
    for q in questions[10:]:
        t = time.perf_counter()
        r.ask(q, k=3)
        lat.append((time.perf_counter() - t) * 1000)
    return {k: v / len(lat) * 1000 for k, v in spent.items()}, lat, len(stored)


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m benchmarks.stages DIR   (DIR/docs and DIR/index)")
    per_stage, lat, passages = stage_times(Path(sys.argv[1]))
    print(f"warm ask p50 {np.percentile(lat, 50):.1f} ms, p99 {np.percentile(lat, 99):.1f} ms, slowest {max(lat):.1f} ms "
          f"({len(lat)} questions)")
    from qa_bot import search

    beside = passages >= search.PARALLEL_LEXICAL
    for label, ms in per_stage.items():
        note = " (in a worker thread, beside embedding and vector search)" if beside and label == "BM25 candidates" else ""
        print(f"  {label:22s} {ms:6.2f} ms{note}")
    main_thread = sum(ms for label, ms in per_stage.items() if not (beside and label == "BM25 candidates"))
    print(f"  {'everything else':22s} {np.mean(lat) - main_thread:6.2f} ms" + (" (with any wait for the worker)" if beside else ""))


if __name__ == "__main__":
    main()
