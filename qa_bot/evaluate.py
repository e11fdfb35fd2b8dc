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
    kind: str = ""  # for unanswerable questions: "off-topic" or "near-topic"


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
            out.append(Question(rec["question"], bool(rec.get("answerable", bool(gold))), gold, str(rec.get("kind", ""))))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            raise QaBotError(f"{path}:{number}: not a question record") from None
    return out


def is_hit(result: dict, gold: list[tuple[str, int]]) -> bool:
    return any(result["source"] == s and result["line_start"] <= line <= result["line_end"] for s, line in gold)


def _found(retriever, question: str) -> bool:
    ranked = retriever.rank(question, 1)
    return bool(ranked) and ranked[0][1] >= retriever.threshold


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
        if not ranked or ranked[0][1] < retriever.threshold:  # what `ask` reports as found: false
            wrongly_not_found.append(q.question)
    not_found = [q.question for q in unanswerable if not _found(retriever, q.question)]
    n = max(len(answerable), 1)
    by_kind = {}
    for kind in sorted({q.kind for q in unanswerable if q.kind}):
        group = [q for q in unanswerable if q.kind == kind]
        by_kind[f"{kind}_not_found"] = sum(q.question in not_found for q in group) / len(group)
    return {
        "questions": len(questions),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "hit@1": hits[1] / n,
        "hit@3": hits[3] / n,
        "hit@5": hits[5] / n,
        "mrr": rr / n,
        "unanswerable_not_found": len(not_found) / max(len(unanswerable), 1),
        **by_kind,
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


@dataclass
class Beir:
    """A BEIR-layout dataset: corpus, queries and graded relevance judgements for one split."""

    path: Path
    corpus: list[dict]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def _read_jsonl(path: Path) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except (OSError, json.JSONDecodeError) as exc:
        raise QaBotError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None


def load_beir(path: Path, split: str = "test") -> Beir:
    for name in ("corpus.jsonl", "queries.jsonl", f"qrels/{split}.tsv"):
        if not (path / name).is_file():
            raise QaBotError(f"{path} is not a BEIR dataset: {name} is missing")
    corpus = _read_jsonl(path / "corpus.jsonl")
    queries = {str(q["_id"]): q["text"] for q in _read_jsonl(path / "queries.jsonl")}
    qrels: dict[str, dict[str, int]] = {}
    for number, line in enumerate((path / f"qrels/{split}.tsv").read_text(encoding="utf-8").splitlines()):
        parts = line.split("\t")
        if number == 0 and not parts[-1].strip().lstrip("-").isdigit():
            continue  # header
        if len(parts) >= 3:
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return Beir(path, corpus, queries, qrels)


def beir_index(data: Beir, encoder, cache: Path, progress: bool = True, meta: dict | None = None):
    """The dataset's passages (title + abstract, windowed to fit) indexed under `cache`, reused when unchanged."""
    import hashlib

    from . import index as index_mod
    from .documents import Passage, fit_windows, passage_id

    digest = hashlib.sha256((data.path / "corpus.jsonl").read_bytes()).hexdigest()
    passages = []
    for doc in data.corpus:
        source = str(doc["_id"])
        body = doc.get("text") or doc.get("title") or "(empty)"
        for text in fit_windows(body, encoder.max_tokens, encoder.count_tokens):
            passages.append(Passage(passage_id(source, text), source, 1, 1, 1, text, doc.get("title") or "", None))
    unit = index_mod.FileChange("corpus.jsonl", 0, 0, digest, passages)
    return index_mod.update_units(cache, data.path, encoder, [unit], meta=meta or {"backend": "torch"}, progress=progress)


def ranked_docs(retriever, query: str, n: int = 100) -> list[str]:
    """Document ids, best first: a document scores as its best passage."""
    seen: dict[str, None] = {}
    for row, _ in retriever.rank(query, n * 2):
        seen.setdefault(retriever.passages[row].source)
        if len(seen) >= n:
            break
    return list(seen)


def evaluate_beir(retriever, data: Beir) -> dict:
    """Mean nDCG@10, recall@100 and MRR@10 over the split's judged queries."""
    totals = {"ndcg@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    qids = [q for q in data.qrels if q in data.queries]
    for qid in qids:
        ranked = ranked_docs(retriever, data.queries[qid], 100)
        rel = data.qrels[qid]
        totals["ndcg@10"] += ndcg_at_k(ranked, rel, 10)
        totals["recall@100"] += recall_at_k(ranked, rel, 100)
        totals["mrr@10"] += mrr_at_k(ranked, rel, 10)
    n = max(len(qids), 1)
    return {**{k: v / n for k, v in totals.items()}, "queries": len(qids)}
