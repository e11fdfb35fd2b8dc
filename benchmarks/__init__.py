"""Benchmarks that print figures: `python -m benchmarks [--only SECTION]`."""

from __future__ import annotations

import time


def warm_latencies(retriever, questions, k: int = 3, warmup: int = 10) -> list[float]:
    """Milliseconds per `retriever.ask` for each question, after a few untimed warm-up asks.

    One loop for every warm-query figure, so the sections measure the same thing.
    """
    from qa_bot.engine import settle

    settle()  # as the long-running front ends do once the index is open
    for q in questions[:warmup]:
        retriever.ask(q)
    lat = []
    for q in questions:
        t = time.perf_counter()
        retriever.ask(q, k=k)
        lat.append((time.perf_counter() - t) * 1000)
    return lat
