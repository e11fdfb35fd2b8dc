"""Re-rank the top fused candidates with a small linear model over cheap features.

Fusion scores a passage by its cosines and BM25; it cannot see whether the best sentence (not
only the passage) holds the question's rare terms, whether they stand side by side, whether the
section heading names them, or what kind of passage it is (table, header, navigation). The
features here add that, numpy only, with no model forward pass (the question and sentence vectors
are already there). Trained by scripts/train_rerank.py, stored as JSON beside this module.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .query import has_type

MODEL_FILE = Path(__file__).resolve().parent / "rerank_model.json"
DEPTH = 20  # candidates re-ranked (after fusion and bonuses); the rest keep their order

FEATURES = (
    "fused", "cos", "sent", "lex", "log_rank",
    "cov", "sent_cov", "sent_pairs", "section_cov",
    "typed", "header", "navigation", "table", "meta_fit",
    "top_sent", "top_lex",
)


def _coverage(idf: dict[str, float], total: float, have) -> float:
    return sum(w for t, w in idf.items() if t in have) / total if total > 0 else 0.0


def _pair_share(qpairs: set[tuple[str, str]], have: set[tuple[str, str]]) -> float:
    """Share of the question's adjacent term pairs (stop words out) that a text holds adjacent, either order."""
    if not qpairs:
        return 0.0
    return sum(p in have or (p[1], p[0]) in have for p in qpairs) / len(qpairs)


def _cached(retriever, name: str, limit: int) -> dict:
    """A per-retriever memo (a retriever serves one index generation, so rows never change meaning)."""
    cache = retriever.__dict__.setdefault(name, {})
    if len(cache) > limit:
        cache.clear()
    return cache


def _sentence_terms(retriever, row: int, text: str, count: int, best: int, analyzer):
    """Terms and adjacent term pairs of one sentence of a passage (the whole passage when it has
    one), memoised by (row, sentence): a sentence tokenised once serves every later question."""
    cache = _cached(retriever, "_rerank_sentences", 20_000)
    key = (row, best)
    found = cache.get(key)
    if found is None:
        if count > 1:
            from .documents import split_sentences

            parts = split_sentences(text)
            text = parts[best] if len(parts) == count else text
        words, joined = analyzer.split(text)
        found = cache[key] = (frozenset(words + joined), frozenset(zip(words, words[1:])))
    return found


def _heading_terms(retriever, p, analyzer) -> frozenset[str]:
    """Terms of a passage's title and section (memoised: a folder has few distinct headings)."""
    cache = _cached(retriever, "_heading_terms", 10_000)
    key = f"{p.title}\n{getattr(p, 'section', None) or ''}"
    found = cache.get(key)
    if found is None:
        found = cache[key] = frozenset(analyzer.terms(key))
    return found


def features(retriever, rows: np.ndarray, score: np.ndarray, cos: np.ndarray, sent: np.ndarray, lex: np.ndarray,
             info, qvec: np.ndarray | None, text: str | None = None, typed: np.ndarray | None = None) -> np.ndarray:
    """One row of FEATURES per candidate (rows best first by fused score). `text`: the question as
    scored (filler stripped, respelt; default info.text); `typed`: whether each candidate holds
    what a typed question asks for (computed here when not given).

    Passage coverage comes from the BM25 postings and only the best sentence is tokenised, so
    a question costs about 20 short tokenisations (fewer when the sentences were seen before).
    """
    from .search import meta_fits

    lexical = retriever.lexical
    analyzer = lexical.analyzer
    words, joined = analyzer.split(text or info.text)
    qseq = words + joined
    qterms = list(dict.fromkeys(qseq))
    weights = np.asarray(lexical.term_idfs(qterms), dtype=np.float64)
    idf = dict(zip(qterms, weights.tolist()))
    total = float(weights.sum())
    qpairs = {p for p in zip(words, words[1:]) if p[0] != p[1]}
    n = len(rows)
    rows = np.asarray(rows, dtype=np.int64)
    cov = lexical.presence(qterms, rows) @ weights / total if total > 0 else np.zeros(n)
    passages = retriever.passages_at(rows)
    found = retriever._sentence_sims(rows, qvec) if qvec is not None else None
    counts = retriever.index.sentence_counts[rows] if found is not None else np.ones(n, dtype=np.int64)
    out = np.zeros((n, len(FEATURES)), dtype=np.float64)
    start = 0
    for i, p in enumerate(passages):
        c = int(counts[i])
        best = int(np.argmax(found[0][start:start + c])) if found is not None and c > 1 else 0
        start += c
        sentence_terms, sentence_pairs = _sentence_terms(retriever, int(rows[i]), p.text, c, best, analyzer)
        kind = getattr(p, "kind", "text")
        if typed is not None:
            has = bool(typed[i])
        else:
            has = bool(info.answer_type) and has_type(p.text, info.answer_type, info.text, retriever.is_rare)
        out[i] = (
            score[i], cos[i], sent[i], lex[i], math.log1p(i),
            cov[i], _coverage(idf, total, sentence_terms), _pair_share(qpairs, sentence_pairs),
            _coverage(idf, total, _heading_terms(retriever, p, analyzer)),
            float(has), float(kind == "header"), float(kind == "navigation"), float(kind == "table"),
            float(bool(info.meta) and meta_fits(p, info.meta)),
            0.0, 0.0,
        )
    # The candidate that is best on its own by best-sentence cosine, and by BM25.
    if n:
        out[int(np.argmax(out[:, 2])), -2] = 1.0
        out[int(np.argmax(out[:, 3])), -1] = 1.0
    return out


@dataclass(frozen=True)
class RerankModel:
    """Standardise, then a linear score; candidates are re-ordered by it."""

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray

    def scores(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, dtype=np.float64) - self.mean) / self.scale) @ self.weights

    def to_json(self) -> dict:
        return {"features": list(self.names), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "weights": self.weights.tolist()}

    @classmethod
    def from_json(cls, rec: dict) -> "RerankModel":
        return cls(tuple(rec["features"]), np.asarray(rec["mean"], dtype=np.float64),
                   np.asarray(rec["scale"], dtype=np.float64), np.asarray(rec["weights"], dtype=np.float64))


@lru_cache(maxsize=1)
def default_model() -> RerankModel | None:
    """The committed model, or None when it is missing or was trained on other features."""
    try:
        model = RerankModel.from_json(json.loads(MODEL_FILE.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return model if model.names == FEATURES and len(model.weights) == len(FEATURES) else None


def reorder(retriever, rows: np.ndarray, score: np.ndarray, cos: np.ndarray, sent: np.ndarray, lex: np.ndarray,
            info, qvec: np.ndarray, text: str | None = None, typed: np.ndarray | None = None,
            model: RerankModel | None = None) -> np.ndarray | None:
    """New order (indices into the given arrays, which are best first by fused score) of the top
    DEPTH candidates by the model; None without a model. Ties keep the fused order."""
    model = model or default_model()
    k = min(DEPTH, len(rows))
    if model is None or k < 2:
        return None
    x = features(retriever, rows[:k], score[:k], cos[:k], sent[:k], lex[:k], info, qvec, text,
                 None if typed is None else typed[:k])
    s = model.scores(x)
    return np.argsort(-s, kind="stable")
