"""hit@1 and hit@3 of tests/data/realdocs_questions.jsonl over a docs folder (default realdocs).

A result is a hit when it comes from the gold file and its text contains the gold phrase
(letters and digits compared), so the measure does not depend on line numbering.
Run: PYTHONPATH=. python scripts/realdocs_questions.py [DOCS] [INDEX]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from qa_bot import engine
from qa_bot.config import Settings
from qa_bot.documents.check import norm

QUESTIONS = Path(__file__).resolve().parent.parent / "tests" / "data" / "realdocs_questions.jsonl"


def main(docs: Path, index: Path) -> None:
    settings = Settings.from_env(docs=docs, index=index)
    retriever = engine.open_retriever(settings, progress=False)
    questions = [json.loads(l) for l in QUESTIONS.read_text(encoding="utf-8").splitlines() if l.strip()]
    hits = {1: 0, 3: 0}
    for q in questions:
        answer = retriever.ask(q["question"], k=3)
        ranked = [h.passage for h in answer.hits] if answer.hits else [retriever.passages[r] for r, _ in retriever.rank(q["question"], 3)]
        rank = next((i + 1 for i, p in enumerate(ranked)
                     if any(p.source == g["source"] and norm(g["contains"]) in norm(p.text) for g in q["gold"])), None)
        for k in hits:
            hits[k] += rank is not None and rank <= k
        if rank != 1:
            top = ranked[0] if ranked else None
            print(f"  miss@1: {q['question']}  -> {top.source if top else '-'}: {top.text[:80] if top else ''}")
    n = len(questions)
    print(f"realdocs questions: {n}; hit@1 {hits[1] / n:.3f}; hit@3 {hits[3] / n:.3f} ({settings.mode})")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(Path(args[0]) if args else Path("/work/shared/realdocs"), Path(args[1]) if len(args) > 1 else Path("/tmp/qa-bot-realdocs-index"))
