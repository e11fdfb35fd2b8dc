"""Question to ranked passages: dense (FAISS), lexical (BM25) and their fusion, plus `found`.

Scoring lives here; reading files lives in documents.py and drawing answers in render.py.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np

from .documents import Passage, split_sentences
from .errors import QaBotError
from .index import StoredIndex

MAX_QUESTION_CHARS = 1000
CANDIDATES = 100
# Calibrated on tests/data/seeds_questions.jsonl (see docs/quality.md): the best score below
# which a question is reported as not answered by the documents.
DEFAULT_THRESHOLDS = {"dense": 0.40, "bm25": 4.0, "hybrid": 0.40}


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


class Lexical:
    """BM25 (bm25s, English stop words, Snowball stemming) over the same passages."""

    def __init__(self, texts: list[str]):
        import bm25s
        import Stemmer

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG on import

        self._bm25s = bm25s
        self.stemmer = Stemmer.Stemmer("english")
        tokens = bm25s.tokenize(texts, stopwords="en", stemmer=self.stemmer, show_progress=False)
        self.model = bm25s.BM25()
        self.model.index(tokens, show_progress=False)
        self.size = len(texts)

    def scores(self, question: str) -> np.ndarray:
        tokens = self._bm25s.tokenize(
            [question], stopwords="en", stemmer=self.stemmer, return_ids=False, show_progress=False
        )[0]
        ids = self.model.get_tokens_ids(tokens)
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.model.get_scores_from_ids(ids), dtype=np.float32)


class Retriever:
    """The object a user holds: ask a question, get cited passages.

    Built from a loaded index and an encoder for questions; `mode` picks dense, bm25 or hybrid.
    """

    def __init__(self, index: StoredIndex, encoder, mode: str = "hybrid", threshold: float | None = None,
                 alpha: float = 0.5):
        if mode not in DEFAULT_THRESHOLDS:
            raise QaBotError(f"unknown mode {mode!r}; choose dense, bm25 or hybrid")
        self.index = index
        self.encoder = encoder
        self.mode = mode
        self.alpha = alpha
        self.threshold = DEFAULT_THRESHOLDS[mode] if threshold is None else threshold
        self.passages = index.passages
        self._lexical: Lexical | None = None

    @property
    def lexical(self) -> Lexical:
        if self._lexical is None:
            self._lexical = Lexical([f"{p.title} {p.date or ''} {p.text}" for p in self.passages])
        return self._lexical

    def _dense(self, question: str, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top-n rows and scores from FAISS, plus the question vector."""
        q = np.asarray(self.encoder.encode_query(question), dtype=np.float32)
        scores, rows = self.index.vectors.search(q[None, :], min(n, len(self.passages)))
        keep = rows[0] >= 0
        return rows[0][keep], scores[0][keep], q

    def rank(self, question: str, k: int) -> list[tuple[int, float]]:
        """(row, score) pairs, best first, for the top k passages."""
        n = len(self.passages)
        if n == 0:
            return []
        if self.mode == "dense":
            rows, scores, _ = self._dense(question, k)
            return list(zip(rows.tolist(), scores.tolist()))
        lex = self.lexical.scores(question)
        if self.mode == "bm25":
            top = np.argsort(-lex, kind="stable")[:k]
            return [(int(i), float(lex[i])) for i in top]
        rows, dense, q = self._dense(question, max(CANDIDATES, k))
        cand = np.unique(np.concatenate([rows, np.argsort(-lex, kind="stable")[: max(CANDIDATES, k)]]))
        vecs = self.index.vectors.reconstruct_batch(cand) if hasattr(self.index.vectors, "reconstruct_batch") \
            else np.stack([self.index.vectors.reconstruct(int(i)) for i in cand])
        d = vecs @ q
        top_lex = float(lex.max())
        l = lex[cand] / top_lex if top_lex > 0 else np.zeros(len(cand), dtype=np.float32)
        fused = self.alpha * d + (1 - self.alpha) * l * max(float(d.max()), 0.0)
        order = np.argsort(-fused, kind="stable")[:k]
        return [(int(cand[i]), float(fused[i])) for i in order]

    def ask(self, question: str, k: int = 3, offset: int = 0) -> Answer:
        """Answer a question with the passages ranked offset+1 .. offset+k."""
        q = clean_question(question)
        if k < 1:
            raise QaBotError("k must be at least 1")
        ranked = self.rank(q, k + offset)
        found = bool(ranked) and ranked[0][1] >= self.threshold
        hits = [
            Hit(rank=offset + i + 1, score=score, passage=self.passages[row], highlight=self.highlight(q, self.passages[row]))
            for i, (row, score) in enumerate(ranked[offset:])
        ]
        return Answer(query=q, found=found, hits=hits if found else [])

    def highlight(self, question: str, passage: Passage) -> str:
        """The sentence of the passage with the most question words in common (an exact substring)."""
        sentences = split_sentences(passage.text)
        if len(sentences) <= 1:
            return passage.text
        qwords = set(re.findall(r"\w+", question.lower()))
        best = max(sentences, key=lambda s: len(qwords & set(re.findall(r"\w+", s.lower()))))
        return best

    def neighbours(self, passage: Passage, before: int = 1, after: int = 1) -> list[Passage]:
        """Passages around `passage` in its document, in order (for 'Context')."""
        same = [p for p in self.passages if p.source == passage.source]
        i = next((j for j, p in enumerate(same) if p.id == passage.id), None)
        if i is None:
            return [passage]
        return same[max(0, i - before) : i + after + 1]
