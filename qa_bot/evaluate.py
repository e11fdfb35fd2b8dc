"""Measure retrieval: hit@k and MRR on a question file; nDCG@10, recall@100, MRR@10 on BEIR data."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from .errors import QaBotError

DEFAULT_QUESTIONS = Path(__file__).resolve().parent.parent / "tests" / "data" / "seeds_questions.jsonl"


@dataclass(frozen=True)
class Question:
    question: str
    answerable: bool
    gold: list[tuple[str, int]] = field(default_factory=list)  # (source, line)


def load_questions(path: Path) -> list[Question]:
    """Question file: JSON lines with question, answerable, gold [{source, line}]."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise QaBotError(f"cannot read question file {path}: {exc.strerror or exc}") from None
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            gold = [(g["source"], int(g["line"])) for g in rec.get("gold", [])]
            out.append(Question(rec["question"], bool(rec.get("answerable", bool(gold))), gold))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            raise QaBotError(f"{path}:{number}: not a question record") from None
    return out


def is_hit(result: dict, gold: list[tuple[str, int]]) -> bool:
    return any(result["source"] == s and result["line_start"] <= line <= result["line_end"] for s, line in gold)


def evaluate_questions(retriever, questions: list[Question], k: int = 5) -> dict:
    """hit@1/3/5 and MRR over answerable questions (ranking regardless of `found`), plus `found` accuracy."""
    answerable = [q for q in questions if q.answerable]
    unanswerable = [q for q in questions if not q.answerable]
    hits = {1: 0, 3: 0, 5: 0}
    rr = 0.0
    wrongly_not_found: list[str] = []
    misses: list[str] = []
    for q in answerable:
        ranked = retriever.rank(q.question, k)
        results = [retriever.passages[row].to_dict() for row, _ in ranked]
        rank = next((i + 1 for i, r in enumerate(results) if is_hit(r, q.gold)), None)
        for cutoff in hits:
            hits[cutoff] += rank is not None and rank <= cutoff
        rr += 1.0 / rank if rank else 0.0
        if rank is None or rank > 3:
            misses.append(q.question)
        if not retriever.ask(q.question, k=1).found:
            wrongly_not_found.append(q.question)
    not_found = [q.question for q in unanswerable if not retriever.ask(q.question, k=1).found]
    n = max(len(answerable), 1)
    return {
        "questions": len(questions),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "hit@1": hits[1] / n,
        "hit@3": hits[3] / n,
        "hit@5": hits[5] / n,
        "mrr": rr / n,
        "unanswerable_not_found": len(not_found) / max(len(unanswerable), 1),
        "answerable_not_found": len(wrongly_not_found),
        "answerable_not_found_questions": wrongly_not_found,
        "unanswerable_found_questions": [q.question for q in unanswerable if q.question not in not_found],
        "missed_top3": misses,
    }


# --------------------------------------------------------------------------- BEIR


def ndcg_at_k(ranked: list[str], qrels: dict[str, int], k: int = 10) -> float:
    """nDCG@k with graded gains (2^rel - 1 over log2(rank + 1)), as trec_eval and BEIR compute it."""
    dcg = sum((2 ** qrels.get(doc, 0) - 1) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted((r for r in qrels.values() if r > 0), reverse=True)[:k]
    idcg = sum((2**r - 1) / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: list[str], qrels: dict[str, int], k: int = 100) -> float:
    relevant = {d for d, r in qrels.items() if r > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def mrr_at_k(ranked: list[str], qrels: dict[str, int], k: int = 10) -> float:
    for i, doc in enumerate(ranked[:k]):
        if qrels.get(doc, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0
