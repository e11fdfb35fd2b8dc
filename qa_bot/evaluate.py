"""Measure retrieval: hit@k and MRR on a question file; nDCG@10, recall@100, MRR@10 on BEIR data."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from .errors import QaBotError

DEFAULT_QUESTIONS = Path(__file__).resolve().parent.parent / "tests" / "data" / "seeds_questions.jsonl"


@dataclass(frozen=True)
class Gold:
    """Where an answer is: a source, and the answer's words and/or a line (and a page for PDFs)."""

    source: str
    line: int | None = None
    answer: str | None = None
    page: int | None = None


@dataclass(frozen=True)
class Question:
    question: str
    answerable: bool
    gold: list[Gold] = field(default_factory=list)
    kind: str = ""  # "answerable", "metadata", "near-topic", "off-topic" ("" in the old format when answerable)
    style: str = ""
    lang: str = "en"
    split: str = ""
    id: str = ""


def _gold(g: dict) -> Gold:
    line, page = g.get("line"), g.get("page")
    return Gold(str(g["source"]), int(line) if line is not None else None, g.get("answer") or None,
                int(page) if page is not None else None)


def load_questions(path: Path, split: str | None = None) -> list[Question]:
    """Question file: JSON lines with question, gold [{source, line and/or answer, page}] and
    optionally kind, style, lang and split; `split` keeps only that split when the file has splits."""
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
            gold = [_gold(g) for g in rec.get("gold") or []]
            kind = str(rec.get("kind", ""))
            answerable = bool(rec.get("answerable", bool(gold) and kind not in ("near-topic", "off-topic")))
            out.append(Question(rec["question"], answerable, gold, kind, str(rec.get("style", "")),
                                str(rec.get("lang", "en") or "en"), str(rec.get("split", "")), str(rec.get("id", ""))))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            raise QaBotError(f"{path}:{number}: not a question record") from None
    if split and any(q.split for q in out):
        out = [q for q in out if q.split == split]
    return out


def combined_docs(folders: list[Path], target: Path) -> Path:
    """One docs folder holding the files of several (copies, mtimes kept), for a question set
    that spans corpora (e.g. the seeds and ../shared/realdocs); refreshed when they change."""
    import shutil

    wanted: dict[str, Path] = {}
    for folder in folders:
        if not folder.is_dir():
            raise QaBotError(f"corpus folder {folder} does not exist")
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if rel.as_posix() == "README.md" and len(folders) > 1:
                continue  # a corpus folder's own notes (provenance, licences), not one of its documents
            if path.is_file() and not any(part.startswith(".") for part in rel.parts):
                if rel.as_posix() in wanted:
                    raise QaBotError(f"{rel} is in more than one corpus folder; they must not share file names")
                wanted[rel.as_posix()] = path
    target.mkdir(parents=True, exist_ok=True)
    for old in sorted(target.rglob("*"), reverse=True):
        rel = old.relative_to(target).as_posix()
        if old.is_file() and rel not in wanted:
            old.unlink()
    for rel, src in wanted.items():
        dst = target / rel
        st = src.stat()
        if dst.is_file() and (dst.stat().st_size, dst.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns):
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    return target


def _norm(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def passage_matches(p, g: Gold, metadata: bool = False) -> bool:
    """A hit: same source, the answer's words in the passage (for metadata questions also its
    title, author or date), the page when given; without answer words, the line within its span."""
    if p.source != g.source:
        return False
    page = getattr(p, "page", None)
    if g.page is not None and page is not None and not page <= g.page <= (getattr(p, "page_end", None) or page):
        return False  # a passage that runs over a page break holds text of both pages
    if g.answer:
        fields = [p.text] + ([p.title, getattr(p, "author", None), p.date, getattr(p, "section", None)] if metadata else [])
        if getattr(p, "kind", "text") == "table":  # cells shown "cell | cell"; a gold copied from the cells has no bars
            fields.append(p.text.replace(" | ", " "))
        want = _norm(g.answer)
        return any(want in _norm(f) for f in fields if f)
    if g.line is None:
        return False
    if page is None or g.page is None:
        return p.line_start <= g.line <= p.line_end
    # (page, line) within the passage's span, which may run from one page onto the next
    return (page, p.line_start) <= (g.page, g.line) <= (getattr(p, "page_end", None) or page, p.line_end)


def is_hit(p, q: Question) -> bool:
    return any(passage_matches(p, g, q.kind == "metadata") for g in q.gold)


def gold_rows(retriever, q: Question) -> set[int]:
    """Rows of every passage that counts as a hit for q (scans only the gold sources' rows)."""
    sources = {g.source for g in q.gold}
    rows = getattr(retriever, "_rows_by_source", None)
    if rows is None:
        rows = {}
        for i, p in enumerate(retriever.passages):  # streamed in row order
            rows.setdefault(p.source, []).append(i)
        retriever._rows_by_source = rows
    return {i for s in sources for i in rows.get(s, []) if is_hit(retriever.passages[i], q)}


def evaluate_questions(retriever, questions: list[Question], k: int = 5) -> dict:
    """hit@1/3/5 and MRR over answerable questions (ranking regardless of the verdict), hit@1/3 per
    style, and what the verdict does: answerable lost, near-topic not answered, off-topic none,
    metadata answered with a citation, Russian and Korean hit@5."""
    from .query import clean_question

    answerable = [q for q in questions if q.answerable]
    unanswerable = [q for q in questions if not q.answerable]
    hits = {1: 0, 3: 0, 5: 0}
    rr = 0.0
    lost: list[str] = []
    misses: list[str] = []
    per_style: dict[str, list[int | None]] = {}
    english: list[int | None] = []
    per_lang: dict[str, list[int | None]] = {}
    meta_cited = []
    verdicts: dict[str, str] = {}
    for q in questions:
        r, verdict, _ = retriever.decide(clean_question(q.question))
        verdicts[q.question] = verdict
        if not q.answerable:
            continue
        rank = next((i + 1 for i, row in enumerate(r.rows[:k]) if is_hit(retriever.passages[int(row)], q)), None)
        for cutoff in hits:
            hits[cutoff] += rank is not None and rank <= cutoff
        rr += 1.0 / rank if rank else 0.0
        if rank is None or rank > 3:
            misses.append(q.question)
        if verdict != "answered":
            lost.append(q.question)
        if q.lang in ("", "en"):
            per_style.setdefault(q.style or "plain", []).append(rank)
            english.append(rank)
        per_lang.setdefault(q.lang or "en", []).append(rank)
        if q.kind == "metadata":
            meta_cited.append(verdict == "answered" and rank is not None and rank <= 3)
    n = max(len(answerable), 1)

    def at(ranks, cutoff):
        return sum(r is not None and r <= cutoff for r in ranks) / max(len(ranks), 1)

    by_kind = {}
    for kind in sorted({q.kind for q in unanswerable if q.kind}):
        group = [q for q in unanswerable if q.kind == kind]
        by_kind[f"{kind}_not_found"] = sum(verdicts[q.question] == "none" for q in group) / len(group)
        by_kind[f"{kind}_not_answered"] = sum(verdicts[q.question] != "answered" for q in group) / len(group)
    out = {
        "questions": len(questions),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "hit@1": hits[1] / n,
        "hit@3": hits[3] / n,
        "hit@5": hits[5] / n,
        "mrr": rr / n,
        "unanswerable_not_found": sum(verdicts[q.question] == "none" for q in unanswerable) / max(len(unanswerable), 1),
        **by_kind,
        "answerable_not_found": len(lost),
        "answerable_lost": len(lost) / n,
        "styles": {s: {"n": len(v), "hit@1": at(v, 1), "hit@3": at(v, 3)} for s, v in sorted(per_style.items())},
        "answerable_not_found_questions": lost,
        "unanswerable_found_questions": [q.question for q in unanswerable if verdicts[q.question] == "answered"],
        "missed_top3": misses,
    }
    if len(english) != len(answerable):
        out["en_hit@1"], out["en_hit@3"] = at(english, 1), at(english, 3)
    if meta_cited:
        out["metadata_answered_cited"] = sum(meta_cited) / len(meta_cited)
    for lang in ("ru", "ko"):
        if lang in per_lang:
            out[f"{lang}_hit@5"] = at(per_lang[lang], 5)
    return out


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
    """The dataset's passages (each abstract windowed to fit, its title a field BM25 reads) indexed under `cache`,
    reused when unchanged. (Round 15 tried the title in the text the model reads: train +0.007, test -0.0001.)"""
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
