"""Question to ranked passages: dense (FAISS), lexical (BM25) and their fusion, plus `found`.

Scoring lives here; reading files lives in documents.py and drawing answers in render.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .documents import Passage, split_sentences
from .errors import QaBotError
from .index import StoredIndex
from .lexical import Lexical, passage_text

MAX_QUESTION_CHARS = 1000
CANDIDATES = 100
# Calibrated on tests/data/seeds_questions.jsonl (see docs/quality.md): the best score below
# which a question is reported as not answered by the documents.
DEFAULT_THRESHOLDS = {"dense": 0.41, "bm25": 0.085, "hybrid": 0.22}
# Weight of the cosine similarity in hybrid scores, chosen on SciFact train (benchmarks/tune_fusion.py).
HYBRID_ALPHA = 0.4
# Share of a passage's dense score that comes from its best-matching sentence.
SENTENCE_WEIGHT = 0.7


@dataclass(frozen=True)
class Hit:
    """One ranked passage with its score and the sentence that best matches the question."""

    rank: int
    score: float
    passage: Passage
    highlight: str

    def to_dict(self) -> dict:
        p = self.passage
        return {
            "rank": self.rank,
            "score": round(float(self.score), 4),
            "text": p.text,
            "source": p.source,
            "paragraph": p.paragraph,
            "line_start": p.line_start,
            "line_end": p.line_end,
            "title": p.title,
            "date": p.date,
            "highlight": self.highlight,
        }


@dataclass(frozen=True)
class Answer:
    """The result of one question: whether the documents answer it, and the ranked hits."""

    query: str
    found: bool
    hits: list[Hit] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"query": self.query, "found": self.found, "results": [h.to_dict() for h in self.hits]}


def clean_question(question: str) -> str:
    """Strip control characters and collapse whitespace; refuse empty and over-long questions."""
    q = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", " ", question or "")
    q = " ".join(q.split())
    if not q:
        raise QaBotError("empty question: type a question about the documents")
    if len(q) > MAX_QUESTION_CHARS:
        raise QaBotError(f"question too long ({len(q)} characters; the limit is {MAX_QUESTION_CHARS})")
    return q


class Retriever:
    """The object a user holds: ask a question, get cited passages.

    Built from a loaded index and an encoder for questions; `mode` picks dense, bm25 or hybrid.
    """

    def __init__(self, index: StoredIndex, encoder, mode: str = "hybrid", threshold: float | None = None,
                 alpha: float = HYBRID_ALPHA):
        if mode not in DEFAULT_THRESHOLDS:
            raise QaBotError(f"unknown mode {mode!r}; choose dense, bm25 or hybrid")
        self.index = index
        self.encoder = encoder
        self.mode = mode
        self.alpha = alpha
        self.threshold = DEFAULT_THRESHOLDS[mode] if threshold is None else threshold
        self.passages = index.passages
        self._lexical: Lexical | None = None
        import faiss

        faiss.omp_set_num_threads(1)  # one query at a time: threads only add contention here

    @property
    def lexical(self) -> Lexical:
        """BM25 stored with the index (built here only for an index written without one)."""
        if self._lexical is None:
            self._lexical = self.index.lexical or Lexical.build([passage_text(p) for p in self.passages])
        return self._lexical

    def rank(self, question: str, k: int) -> list[tuple[int, float]]:
        """(row, score) pairs, best first, for the top k passages."""
        return self._rank(question, k)[0]

    def _rank(self, question: str, k: int) -> tuple[list[tuple[int, float]], np.ndarray | None]:
        """Ranked (row, score) pairs and the question vector (None in bm25 mode).

        dense: a passage scores as a blend of its own cosine and its best sentence's.
        hybrid: alpha * that + (1 - alpha) * BM25 / (sum of the question terms' IDFs), over the
        union of both retrievers' top candidates. Scores mean the same for every question, so one
        threshold decides `found`.
        """
        n = len(self.passages)
        if n == 0:
            return [], None
        m = max(CANDIDATES, k)
        if self.mode != "bm25":
            q = np.asarray(self.encoder.encode_query(question), dtype=np.float32)
            dense_rows = self.index.search(q, min(m, n))
        if self.mode == "dense":
            cand, score = dense_rows, self.dense_scores(dense_rows, q)
        else:
            lex_rows, lex = self.lexical.sparse(question)  # only passages that share a term
            top = np.argpartition(-lex, m)[:m] if len(lex) > m else np.arange(len(lex))
            if self.mode == "bm25":
                cand, score, q = lex_rows[top], lex[top], None
            else:
                cand = np.unique(np.concatenate([dense_rows, lex_rows[top]]))
                at = np.minimum(np.searchsorted(lex_rows, cand), max(len(lex_rows) - 1, 0))
                lex_cand = np.where(lex_rows[at] == cand, lex[at], 0) if len(lex_rows) else np.zeros(len(cand))
                score = self.alpha * self.dense_scores(cand, q) + (1 - self.alpha) * lex_cand
        order = np.argsort(-score, kind="stable")[:k]
        return [(int(cand[i]), float(score[i])) for i in order], q

    def _vectors(self, rows: np.ndarray) -> np.ndarray:
        return self.index.row_vectors(rows)

    def _sentence_sims(self, rows: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Cosine of every sentence of the given passages, and each passage's segment start."""
        sv = self.index.sentence_vectors
        if sv is None or len(rows) == 0:
            return None
        offsets = self.index.sentence_offsets()
        starts, counts = offsets[rows], self.index.sentence_counts[rows]
        idx = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
        sims = np.asarray(sv[idx], dtype=np.float32) @ q
        return sims, np.cumsum(counts) - counts

    def dense_scores(self, rows: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Blend of each passage's cosine with its best sentence's cosine."""
        cos = self._vectors(rows) @ q
        found = self._sentence_sims(rows, q)
        if found is None or SENTENCE_WEIGHT == 0:
            return cos
        sims, segments = found
        best = np.maximum.reduceat(sims, segments)
        return (1 - SENTENCE_WEIGHT) * cos + SENTENCE_WEIGHT * best

    def ask(self, question: str, k: int = 3, offset: int = 0) -> Answer:
        """Answer a question with the passages ranked offset+1 .. offset+k."""
        q = clean_question(question)
        if k < 1:
            raise QaBotError("k must be at least 1")
        ranked, qvec = self._rank(q, k + offset)
        found = bool(ranked) and ranked[0][1] >= self.threshold
        if not found:
            return Answer(query=q, found=False)
        shown = ranked[offset:]
        highlights = self.highlights(q, [row for row, _ in shown], qvec)
        hits = [
            Hit(rank=offset + i + 1, score=score, passage=self.passages[row], highlight=hl)
            for i, ((row, score), hl) in enumerate(zip(shown, highlights))
        ]
        return Answer(query=q, found=True, hits=hits)

    def highlights(self, question: str, rows: list[int], q: np.ndarray | None = None) -> list[str]:
        """For each passage, the sentence closest in meaning to the question (an exact substring)."""
        passages = self.passages.many(rows) if hasattr(self.passages, "many") else [self.passages[row] for row in rows]
        split = [split_sentences(p.text) for p in passages]
        if all(len(parts) <= 1 for parts in split):
            return [p.text for p in passages]
        if q is None:
            q = np.asarray(self.encoder.encode_query(question), dtype=np.float32)
        found = self._sentence_sims(np.asarray(rows, dtype=np.int64), q)
        counts = [len(parts) for parts in split]
        if found is None or len(found[0]) != sum(counts):
            flat = [s for parts in split for s in parts]
            sims = self.encoder.encode(flat) @ q
        else:
            sims = found[0]
        out, i = [], 0
        for p, parts in zip(passages, split):
            out.append(parts[int(np.argmax(sims[i : i + len(parts)]))] if len(parts) > 1 else p.text)
            i += len(parts)
        return out

    def neighbours(self, passage: Passage, before: int = 1, after: int = 1) -> list[Passage]:
        """Passages around `passage` in its document, in order (for 'Context')."""
        return self.index.neighbours(passage, before, after)
