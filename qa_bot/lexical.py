"""BM25 over passages: built with bm25s at index time, stored as plain arrays, scored with numpy.

bm25s (Lucene BM25, its extended English stop words, Snowball stemming via PyStemmer) computes
every (term, passage) score once; a question's score is then a sum of sparse columns, read from
memory-mapped arrays, so answering never imports bm25s or scipy, opens in milliseconds, and
touches only the postings of the question's terms.
"""

from __future__ import annotations

import logging
import re
import threading

import numpy as np

TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s's (and scikit-learn's) token pattern


def passage_text(p) -> str:
    """What BM25 sees of a passage: its title and date help matching without being passages."""
    return f"{p.title} {p.date or ''} {p.text}"


class Lexical:
    """BM25 scores for questions. `scores` are divided by the sum of the question terms' IDFs
    (a term the corpus never uses counts at the highest IDF), which maps them to about 0..1 on
    the same scale for every question.
    """

    def __init__(self, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, vocab: list[str],
                 stopwords: list[str], size: int):
        import Stemmer

        self.data, self.indices, self.indptr = data, indices, indptr
        self.vocab = {token: i for i, token in enumerate(vocab)}
        self.stopwords = frozenset(stopwords)
        self.size = size
        self.stemmer = Stemmer.Stemmer("english")
        self._lock = threading.Lock()  # PyStemmer objects are not thread-safe (the bot searches in threads)
        df = np.diff(indptr).astype(np.float64)  # passages containing each term
        n = max(size, 1)
        self.idf_array = np.log(1 + (n - df + 0.5) / (df + 0.5))
        self.idf_unknown = float(np.log(1 + (n + 0.5) / 0.5))

    @classmethod
    def build(cls, texts: list[str]) -> "Lexical":
        """Index texts with bm25s (the maintained implementation); keep only its arrays."""
        import bm25s
        import Stemmer
        from bm25s.stopwords import STOPWORDS_EN_PLUS

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG on import
        tokens = bm25s.tokenize(texts, stopwords="en_plus", stemmer=Stemmer.Stemmer("english"), show_progress=False)
        model = bm25s.BM25()
        model.index(tokens, show_progress=False)
        vocab = [""] * len(model.vocab_dict)
        for token, i in model.vocab_dict.items():
            vocab[i] = token
        scores = model.scores
        return cls(np.asarray(scores["data"], dtype=np.float32), np.asarray(scores["indices"], dtype=np.int32),
                   np.asarray(scores["indptr"], dtype=np.int64), vocab, list(STOPWORDS_EN_PLUS), len(texts))

    def arrays(self) -> dict[str, np.ndarray]:
        return {"data": self.data, "indices": self.indices, "indptr": self.indptr}

    def meta(self) -> dict:
        vocab = [""] * len(self.vocab)
        for token, i in self.vocab.items():
            vocab[i] = token
        return {"vocab": vocab, "stopwords": sorted(self.stopwords), "size": self.size}

    def tokens(self, question: str) -> list[str]:
        """Lower-case, split, drop stop words, stem: the same steps bm25s applied to passages."""
        words = [w for w in TOKEN.findall(question.lower()) if w not in self.stopwords]
        with self._lock:
            stems = self.stemmer.stemWords(words)
        return list(dict.fromkeys(stems))  # each term once

    def raw_scores(self, question: str) -> tuple[np.ndarray, list[str]]:
        terms = self.tokens(question)
        scores = np.zeros(self.size, dtype=np.float32)
        for term in terms:
            i = self.vocab.get(term)
            if i is not None:
                start, end = self.indptr[i], self.indptr[i + 1]
                scores[self.indices[start:end]] += self.data[start:end]
        return scores, terms

    def _norm(self, terms: list[str]) -> float:
        return sum(float(self.idf_array[self.vocab[t]]) if t in self.vocab else self.idf_unknown for t in terms)

    def sparse(self, question: str) -> tuple[np.ndarray, np.ndarray]:
        """Rows with a non-zero score (ascending) and their normalised scores.

        Only the postings of the question's terms are read (memory-mapped), never all N scores.
        """
        terms = self.tokens(question)
        ids = [self.vocab[t] for t in terms if t in self.vocab]
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        spans = [(int(self.indptr[i]), int(self.indptr[i + 1])) for i in ids]
        idx = np.concatenate([self.indices[a:b] for a, b in spans])
        vals = np.concatenate([self.data[a:b] for a, b in spans])
        rows, inverse = np.unique(idx, return_inverse=True)
        sums = np.bincount(inverse, weights=vals, minlength=len(rows)).astype(np.float32)
        total = self._norm(terms)
        return rows.astype(np.int64), (sums / total if total > 0 else sums)

    def scores(self, question: str) -> np.ndarray:
        raw, terms = self.raw_scores(question)
        total = self._norm(terms)
        return raw / total if total > 0 else raw
