"""BM25 over passages: term frequencies in immutable, memory-mapped segments, scored at question time.

The same BM25 as bm25s (Lucene variant, at k1 0.9, b 0.4, its extended English stop words,
Snowball stemming via PyStemmer; plus compound terms such as ctrl_r or 800_207, see
`compounds`), but the index keeps term frequencies and document lengths
instead of final scores, so the corpus statistics (document count, average length, document
frequencies) can change without rewriting the postings. An update adds one small segment for
the new passages; removed passages simply drop out (their ids are no longer in the generation);
small segments are merged from their postings, never by re-reading text. A question reads only
the postings of its own terms, never all N scores.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s's (and scikit-learn's) token pattern
# Anserini's (and BEIR's baselines') k1 and b; bm25s defaults to 1.5 / 0.75. Chosen in round 12 on SciFact train and
# held-out re-ranker figures (docs/quality.md, round 12).
K1, B = 0.9, 0.4
# `Lexical.top`: questions whose terms have at most this many postings in all are scored exhaustively
# (exact); above it, the rarest terms are read in full up to this many postings and the best
# RESCORED passages by those terms, plus the caller's rows, are scored exactly by every term.
EXACT_POSTINGS = int(os.environ.get("QA_BOT_BM25_EXACT", "150000"))
BUDGET_POSTINGS = int(os.environ.get("QA_BOT_BM25_BUDGET", "60000"))
RESCORED = int(os.environ.get("QA_BOT_BM25_RESCORED", "1000"))
# A term in at least this share of a segment's documents (and BITSET_MIN_POSTINGS) also gets a
# bitset of the documents holding it (N/8 bytes, below its postings' 6 bytes each): `top` reads
# whether a candidate holds such a common term with one look-up instead of a binary search.
BITSET_SHARE = 1 / 32
BITSET_MIN_POSTINGS = 4096


COMPOUNDS = True
_COMPOUND = re.compile(r"(?<![\w.-])\w+(?:[-./]\w+)+")
_PARTS = re.compile(r"[-./]")
_REFERENCE = re.compile(r"(?<![\w&#])#\d+\b")
# A line that names where an article comes from ("More From Voice of Korea (EN)" under a news
# item, "Source: Reuters", "Published by ..."): BM25 reads it as the term publish too.
PUBLISHER = re.compile(r"(?<!\w)(?:More From|Source:|Published by|Originally published by)\s+[A-Z]")


def compounds(text: str) -> list[str]:
    """Terms for words joined by - . or / where the plain tokens lose what tells them apart: a part
    of one character ("ctrl-r", "utf-8", "x-ray" -> ctrl_r, utf_8, x_ray; the token pattern drops
    single characters) or numbers only ("800-207", "2.2.1.0" -> 800_207, 2_2_1_0); and numbered
    references ("#35", a ticket or an issue -> #35, where the plain token is any 35); © is
    the term copyright, a publisher line (`PUBLISHER`) the term publish. The parts stay terms of
    their own too. `text` as written: the publisher line is told by its capitals."""
    out = []
    marks = len(PUBLISHER.findall(text))
    text = text.lower()
    for m in _COMPOUND.finditer(text):
        parts = _PARTS.split(m.group())
        if len(parts) <= 6 and len(m.group()) <= 40 and (any(len(p) == 1 for p in parts) or all(p.isdigit() for p in parts)):
            out.append("_".join(parts))  # not a path, a URL or an encoded blob
    out.extend(_REFERENCE.findall(text))
    out.extend("copyright" for _ in range(text.count("©")))  # "2023 © All rights reserved." answers a copyright question
    out.extend("publish" for _ in range(marks))  # the stem of published / publisher
    return out


def passage_text(p) -> str:
    """What BM25 sees of a passage: its title and date help matching without being passages."""
    return f"{p.title} {p.date or ''} {p.text}"


def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(STOPWORDS_EN_PLUS)


class Analyzer:
    """Text to stemmed terms, exactly as bm25s.tokenize(stopwords='en_plus', stemmer=english) does,
    followed by the text's compound terms."""

    def __init__(self, stopwords: frozenset[str] | None = None):
        import Stemmer

        self.stopwords = stopwords if stopwords is not None else _stopwords()
        self.stemmer = Stemmer.Stemmer("english")
        self._stems: dict[str, str] = {}
        self._lock = threading.Lock()  # PyStemmer objects are not thread-safe (the bot searches in threads)

    def terms(self, text: str) -> list[str]:
        """Every term occurrence of a text, in order (duplicates kept: they are term frequencies),
        then its compound terms (see `compounds`)."""
        words, joined = self.split(text)
        return words + joined

    def stems(self, words: list[str]) -> list[str | None]:
        """Each lower-case word (letters only) as `terms` reads it: its stem, or None for a stop word.
        One call to the stemmer, nothing cached: the speller asks this of hundreds of made-up words."""
        with self._lock:
            stemmed = self.stemmer.stemWords(words)
        return [None if w in self.stopwords else s for w, s in zip(words, stemmed)]

    def split(self, text: str) -> tuple[list[str], list[str]]:
        """The text's word terms in order, and its compound terms (what `terms` puts after them)."""
        lower = text.lower()
        words = [w for w in TOKEN.findall(lower) if w not in self.stopwords]
        missing = [w for w in set(words) if w not in self._stems]
        if missing:
            with self._lock:
                for w, s in zip(missing, self.stemmer.stemWords(missing)):
                    self._stems[w] = s
            if len(self._stems) > 500_000:
                self._stems.clear()
        stems = self._stems
        return [stems.get(w) or self.stemmer.stemWord(w) for w in words], (compounds(text) if COMPOUNDS else [])


@dataclass
class Segment:
    """Postings of one batch of passages: for each term id, (document, term frequency) pairs."""

    pids: np.ndarray  # passage id of each document in the segment, ascending
    lengths: np.ndarray  # terms per document
    indptr: np.ndarray  # term id -> start of its postings (len = terms known when written + 1)
    docs: np.ndarray  # document index within the segment, per posting
    tfs: np.ndarray  # term frequency, per posting
    bit_terms: np.ndarray | None = None  # term ids (ascending) that have a bitset, see BITSET_SHARE
    bits: np.ndarray | None = None  # one row of uint64 words per bit term: bit d of the row = document d holds it

    FILES = {"pids": ("seg-pids.i64", np.int64), "lengths": ("seg-lengths.i32", np.int32),
             "indptr": ("seg-indptr.i64", np.int64), "docs": ("seg-docs.i32", np.int32), "tfs": ("seg-tfs.u16", np.uint16)}

    @classmethod
    def from_documents(cls, pids: np.ndarray, documents: list[np.ndarray], n_terms: int) -> "Segment":
        """A segment from each document's term ids (duplicates are occurrences)."""
        doc_of, term_of, tf_of = [], [], []
        lengths = np.zeros(len(documents), dtype=np.int32)
        for d, ids in enumerate(documents):
            lengths[d] = len(ids)
            if len(ids):
                u, c = np.unique(ids, return_counts=True)
                term_of.append(u)
                tf_of.append(c)
                doc_of.append(np.full(len(u), d, dtype=np.int32))
        return cls._from_triples(np.asarray(pids, dtype=np.int64), lengths,
                                 np.concatenate(term_of) if term_of else np.zeros(0, np.int64),
                                 np.concatenate(doc_of) if doc_of else np.zeros(0, np.int32),
                                 np.concatenate(tf_of) if tf_of else np.zeros(0, np.int64), n_terms)

    @classmethod
    def from_flat(cls, pids: np.ndarray, term_ids: np.ndarray, lengths: np.ndarray, n_terms: int,
                  chunk: int = 20_000) -> "Segment":
        """A segment from every document's term ids laid end to end (`lengths` per document).

        Counted a chunk of documents at a time, then each chunk's postings are placed at their term's
        cursor (a counting sort: documents stay in order within a term). Memory stays about 16
        bytes a posting, never per-document objects or a sort of all postings.
        """
        lengths = np.asarray(lengths, dtype=np.int64)
        ends = np.cumsum(lengths)
        chunks = []
        per_term = np.zeros(n_terms, dtype=np.int64)
        for first in range(0, len(lengths), chunk):
            last = min(first + chunk, len(lengths))
            a, b = (int(ends[first - 1]) if first else 0), int(ends[last - 1]) if last else 0
            doc = np.repeat(np.arange(first, last, dtype=np.int64), lengths[first:last])
            key, tf = np.unique(doc * n_terms + np.asarray(term_ids[a:b], dtype=np.int64), return_counts=True)
            del doc
            terms = (key % n_terms).astype(np.int32)
            order = np.argsort(terms, kind="stable")  # by term, documents ascending within it
            terms = terms[order]
            chunks.append((terms, (key // n_terms).astype(np.int32)[order], np.minimum(tf, 65535).astype(np.uint16)[order]))
            per_term += np.bincount(terms, minlength=n_terms)[:n_terms]
        indptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(per_term, out=indptr[1:])
        docs_all = np.empty(int(indptr[-1]), dtype=np.int32)
        tfs_all = np.empty(int(indptr[-1]), dtype=np.uint16)
        cursor = indptr[:-1].copy()
        while chunks:
            terms, docs, tfs = chunks.pop(0)
            count = np.bincount(terms, minlength=n_terms)[:n_terms]
            dest = cursor[terms] + np.arange(len(terms)) - (np.cumsum(count) - count)[terms]
            docs_all[dest] = docs
            tfs_all[dest] = tfs
            cursor += count
        return cls(np.asarray(pids, dtype=np.int64), lengths.astype(np.int32), indptr, docs_all, tfs_all)

    @classmethod
    def _from_triples(cls, pids, lengths, terms, docs, tfs, n_terms: int) -> "Segment":
        order = np.lexsort((docs, terms))
        indptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(np.bincount(terms, minlength=n_terms)[:n_terms], out=indptr[1:])
        return cls(pids, lengths, indptr, docs[order].astype(np.int32), np.minimum(tfs[order], 65535).astype(np.uint16))

    @classmethod
    def merge(cls, segments: list["Segment"], live: np.ndarray, n_terms: int) -> "Segment":
        """One segment holding the documents of `segments` whose passage id is in `live` (sorted)."""
        pids, lengths, terms, docs, tfs = [], [], [], [], []
        base = 0
        for seg in segments:
            keep = np.isin(seg.pids, live)
            new_index = np.cumsum(keep) - 1 + base
            n_seg_terms = len(seg.indptr) - 1
            term_of = np.repeat(np.arange(n_seg_terms, dtype=np.int64), np.diff(seg.indptr))
            alive = keep[seg.docs]
            terms.append(term_of[alive])
            docs.append(new_index[seg.docs[alive]].astype(np.int32))
            tfs.append(np.asarray(seg.tfs[alive], dtype=np.int64))
            pids.append(np.asarray(seg.pids[keep]))
            lengths.append(np.asarray(seg.lengths[keep]))
            base += int(keep.sum())
        merged_pids = np.concatenate(pids)  # segments are in creation order, so passage ids ascend
        return cls._from_triples(merged_pids, np.concatenate(lengths).astype(np.int32), np.concatenate(terms),
                                 np.concatenate(docs).astype(np.int32), np.concatenate(tfs), n_terms)

    def write(self, folder: Path) -> dict[str, dict]:
        """Write the arrays, and the bitsets of its common terms, into `folder`; returns each file's size and SHA-256."""
        folder.mkdir(parents=True, exist_ok=True)
        parts = {}
        for attr, (name, dtype) in self.FILES.items():
            data = np.ascontiguousarray(getattr(self, attr), dtype=dtype)
            with open(folder / name, "wb") as fh:
                fh.write(memoryview(data).cast("B"))
                fh.flush()
                os.fsync(fh.fileno())
            parts[name] = {"size": data.nbytes, "sha256": hashlib.sha256(memoryview(data).cast("B")).hexdigest()}
        counts = np.diff(np.asarray(self.indptr, dtype=np.int64))
        self.bit_terms = np.flatnonzero(counts >= max(BITSET_MIN_POSTINGS, BITSET_SHARE * len(self.pids))).astype(np.int32)
        words = (len(self.pids) + 63) // 64
        digest, size = hashlib.sha256(), 0
        with open(folder / "seg-bits.u64", "wb") as fh:
            mask = np.zeros(words * 64, dtype=bool)
            for tid in self.bit_terms:
                mask[:] = False
                mask[self.docs[int(self.indptr[tid]) : int(self.indptr[tid + 1])]] = True
                row = np.packbits(mask, bitorder="little")  # byte k, bit j: document 8k + j (little-endian words)
                fh.write(row)
                digest.update(row)
                size += row.nbytes
            fh.flush()
            os.fsync(fh.fileno())
        parts["seg-bits.u64"] = {"size": size, "sha256": digest.hexdigest()}
        data = self.bit_terms.astype("<i4")
        with open(folder / "seg-bitterms.i32", "wb") as fh:
            fh.write(data.tobytes())
            fh.flush()
            os.fsync(fh.fileno())
        parts["seg-bitterms.i32"] = {"size": data.nbytes, "sha256": hashlib.sha256(data.tobytes()).hexdigest()}
        self.bits = None  # read back memory-mapped by `open`
        return parts

    @classmethod
    def open(cls, folder: Path, info: dict) -> "Segment":
        """Memory-map a written segment (`info`: docs, terms, postings)."""
        shapes = {"pids": info["docs"], "lengths": info["docs"], "indptr": info["terms"] + 1,
                  "docs": info["postings"], "tfs": info["postings"]}
        arrays = {}
        for attr, (name, dtype) in cls.FILES.items():
            n = int(shapes[attr])
            # a plain ndarray view of the mapping: numpy.memmap's own indexing is several times slower
            arrays[attr] = np.memmap(folder / name, dtype=dtype, mode="r", shape=(n,)).view(np.ndarray) if n else np.zeros(0, dtype=dtype)
        n_bits, words = int(info.get("bit_terms", 0)), (int(info["docs"]) + 63) // 64
        if n_bits and words:  # segments written before bitsets existed have none: `top` then binary-searches
            arrays["bit_terms"] = np.memmap(folder / "seg-bitterms.i32", dtype="<i4", mode="r", shape=(n_bits,)).view(np.ndarray)
            arrays["bits"] = np.memmap(folder / "seg-bits.u64", dtype="<u8", mode="r", shape=(n_bits, words)).view(np.ndarray)
        return cls(**arrays)

    def info(self) -> dict:
        out = {"docs": int(len(self.pids)), "terms": int(len(self.indptr) - 1), "postings": int(len(self.docs))}
        if self.bit_terms is not None:
            out["bit_terms"] = int(len(self.bit_terms))
        return out

    def bitset(self, tid: int) -> np.ndarray | None:
        """The bitset row of a term, or None when it has none in this segment."""
        if self.bit_terms is None or self.bits is None or not len(self.bit_terms):
            return None
        at = int(np.searchsorted(self.bit_terms, tid))
        return self.bits[at] if at < len(self.bit_terms) and int(self.bit_terms[at]) == tid else None


class Lexical:
    """BM25 scores for questions over one generation's rows. `sparse` scores are divided by the sum
    of the question terms' IDFs (a term the corpus never uses counts at the highest IDF), which maps
    them to about 0..1 on the same scale for every question.
    """

    def __init__(self, segments: list[Segment], df: np.ndarray, n_docs: int, total_length: int, pids: np.ndarray,
                 lookup: Callable[[list[str]], dict[str, int]], analyzer: Analyzer | None = None):
        self.segments, self.df, self.size, self.pids = segments, df, int(n_docs), pids
        self.avgdl = total_length / max(n_docs, 1)
        self.lookup = lookup
        self.analyzer = analyzer or Analyzer()
        self.idf_unknown = float(np.log(1 + (self.size + 0.5) / 0.5))
        self._maps: dict[object, object] = {}
        self._local = threading.local()

    @classmethod
    def build(cls, texts: list[str]) -> "Lexical":
        """An in-memory index of texts (rows 0..n-1): for tests and indexes written without one."""
        analyzer = Analyzer()
        vocab: dict[str, int] = {}
        documents = [np.array([vocab.setdefault(t, len(vocab)) for t in analyzer.terms(text)], dtype=np.int64) for text in texts]
        pids = np.arange(len(texts), dtype=np.int64)
        segment = Segment.from_documents(pids, documents, len(vocab))
        df = np.bincount(segment_terms(segment), minlength=len(vocab)).astype(np.int64)
        return cls([segment], df, len(texts), int(segment.lengths.sum()), pids,
                   lambda terms: {t: vocab[t] for t in terms if t in vocab}, analyzer)

    @property
    def stopwords(self) -> frozenset[str]:
        return self.analyzer.stopwords

    def tokens(self, question: str) -> list[str]:
        """Lower-case, split, drop stop words, stem: the same steps as for passages; each term once."""
        return list(dict.fromkeys(self.analyzer.terms(question)))

    def doc_freqs(self, terms) -> dict[str, int]:
        """Passages holding each term, for the terms the corpus uses (the others are left out)."""
        found = self.lookup(list(dict.fromkeys(terms)))
        return {t: int(self.df[i]) for t, i in found.items() if i < len(self.df) and self.df[i] > 0}

    def term_idfs(self, terms: list[str]) -> list[float]:
        """Each term's IDF; a term the corpus never uses counts at the highest (`idf_unknown`)."""
        df = self.doc_freqs(terms)
        return [float(self.idf([df[t]])[0]) if t in df else self.idf_unknown for t in terms]

    def idf(self, df) -> np.ndarray:
        df = np.asarray(df, dtype=np.float64)
        return np.log(1 + (self.size - df + 0.5) / (df + 0.5))

    def _raw(self, terms: list[str]) -> tuple[np.ndarray, np.ndarray, float]:
        """(rows, raw BM25 sums, sum of the terms' IDFs) for the rows that contain any term."""
        known = {t: i for t, i in self.lookup(terms).items() if i < len(self.df) and self.df[i] > 0}
        norm = sum(float(self.idf([self.df[known[t]]])[0]) if t in known else self.idf_unknown for t in terms)
        return self._raw_ids(list(known.values()))[:2] + (norm,)

    def _raw_ids(self, tids: list[int]) -> tuple[np.ndarray, np.ndarray, None]:
        """(rows, raw BM25 sums, None) for the rows holding any of the term ids: every posting read."""
        rows_parts, score_parts = [], []
        for rows, score in self._postings(tids):
            rows_parts.append(rows)
            score_parts.append(score)
        if not rows_parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), None
        rows = np.concatenate(rows_parts)
        scores = np.concatenate(score_parts)
        if len(rows) * 8 > len(self.pids):  # many postings: a dense sum is cheaper than sorting them
            dense = np.bincount(rows, weights=scores, minlength=len(self.pids))
            rows = np.flatnonzero(dense)
            return rows, dense[rows].astype(np.float32), None
        rows, inverse = np.unique(rows, return_inverse=True)
        sums = np.bincount(inverse, weights=scores, minlength=len(rows))
        return rows.astype(np.int64), sums.astype(np.float32), None

    def _length_norm(self, i: int) -> np.ndarray:
        """k1 * (1 - b + b * length / avgdl) of each document of segment i (float64, as bm25s's
        arithmetic gives it), computed once per generation: a posting then costs one look-up."""
        key = ("norm", i)
        if key not in self._maps:
            self._maps[key] = np.float32(K1) * (np.float32(1 - B) + np.float32(B / self.avgdl) * self.segments[i].lengths)
        return self._maps[key]

    def _rows_of(self, i: int):
        """Row of each document of segment i in this generation (-1 when removed), or an int offset
        when all of them are live (rows then follow directly). Computed once per segment.
        """
        if i not in self._maps:
            seg = self.segments[i]
            offset = self._offset(seg)
            if offset is not None:
                self._maps[i] = offset
            else:
                rows = np.searchsorted(self.pids, seg.pids)
                ok = rows < len(self.pids)
                ok[ok] = self.pids[rows[ok]] == seg.pids[ok]
                self._maps[i] = np.where(ok, rows, -1).astype(np.int64)
        return self._maps[i]

    def _offset(self, seg: Segment) -> int | None:
        """The row of the segment's first document when all its documents are live, else None.

        Segments hold disjoint, ascending ranges of passage ids, so the generation's ids inside a
        segment's range are its live documents: two binary searches tell whether none was removed.
        """
        if len(seg.pids) == 0:
            return None
        first = int(np.searchsorted(self.pids, seg.pids[0]))
        last = int(np.searchsorted(self.pids, seg.pids[-1], side="right"))
        return first if last - first == len(seg.pids) else None

    def top(self, question: str, k: int, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Rows (ascending) and normalised scores, as `sparse`, for at least the k best rows and `rows`.

        Exact (every row with a non-zero score) while the question's terms have at most
        EXACT_POSTINGS postings. Past that (common words in a very large corpus) it is approximate:
        the rarest terms' postings are read in full (at least one term, up to BUDGET_POSTINGS); the
        passages found get every other term's weight as if it occurred once (a bitset look-up, or a
        binary search in short lists); the RESCORED best of them and the given rows are then
        scored exactly by every term, and returned. A passage holding none of the terms read in
        full is missed unless it is one of `rows`.
        """
        return self.finish(self.candidates(question), rows)

    def candidates(self, question: str):
        """The first part of `top`, which needs no dense rows: the search runs it while the question is embedded.

        Returns ("exact", rows, scores) or ("approximate", found, term ids, norm) for `finish`.
        """
        terms = self.tokens(question)
        known = {t: i for t, i in self.lookup(terms).items() if i < len(self.df) and self.df[i] > 0}
        if sum(int(self.df[i]) for i in known.values()) <= EXACT_POSTINGS:
            found, sums, norm = self._raw(terms)
            return ("exact", found, (sums / norm if norm > 0 else sums))
        norm = sum(float(self.idf([self.df[known[t]]])[0]) if t in known else self.idf_unknown for t in terms)
        tids = sorted(known.values(), key=lambda i: int(self.df[i]))
        read, used = [], 0
        for tid in tids:
            if read and used + int(self.df[tid]) > BUDGET_POSTINGS:
                break
            read.append(tid)
            used += int(self.df[tid])
        found, partial = self._touched(read)
        if len(found) > RESCORED:
            partial = partial + self._presence_weights(found, tids[len(read):])
            found = found[np.argpartition(-partial, RESCORED)[:RESCORED]]
        return ("approximate", np.sort(found), tids, norm)

    def finish(self, part, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """`top` from what `candidates` found: the given rows are scored exactly too."""
        if part[0] == "exact":
            return part[1], part[2]
        _, found, tids, norm = part
        if rows is not None and len(rows):
            found = np.union1d(found, np.asarray(rows, dtype=np.int64))
        scores = self._exact(found, tids)
        nonzero = scores > 0
        found, scores = found[nonzero], scores[nonzero]
        return found, (scores / norm if norm > 0 else scores)

    def _touched(self, tids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Rows holding any of the given terms (each once, in no particular order) and their BM25 by
        those terms, every posting read. Sums go into per-thread arrays of all rows, reset after:
        no sort and no allocation of N per question."""
        local = self._local
        if getattr(local, "acc", None) is None or len(local.acc) != len(self.pids):
            local.acc = np.zeros(len(self.pids), dtype=np.float32)  # candidates only: exact scores come later
            local.stamp = np.zeros(len(self.pids), dtype=np.int32)
        acc, stamp = local.acc, local.stamp
        if len(tids) == 1:  # one term: its rows are distinct (segments hold disjoint rows), nothing to add up
            parts = list(self._postings(tids))
            if not parts:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
            return np.concatenate([r for r, _ in parts]), np.concatenate([v for _, v in parts])
        touched = []
        try:
            for rows, score in self._postings(tids):
                acc[rows] += score  # a row occurs once per term and segment
                touched.append(rows)
            if not touched:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
            rows = np.concatenate(touched) if len(touched) > 1 else touched[0]
            if len(touched) > 1:  # keep one occurrence of each row: the last one stamped
                order = np.arange(len(rows), dtype=np.int32)
                stamp[rows] = order
                rows = rows[stamp[rows] == order]
            values = acc[rows]
        finally:
            for part in touched:
                acc[part] = 0
        return rows, values

    def _locate(self, rows: np.ndarray):
        """For each segment: (segment number, positions in `rows`, document numbers) of the rows it holds."""
        if len(self.segments) == 1 and isinstance(self._rows_of(0), int) and self._rows_of(0) == 0:
            return [(0, np.arange(len(rows)), rows)]  # one segment, nothing removed: rows are its documents
        if "where" not in self._maps:  # segment and document of every row, once per generation
            seg_of = np.full(len(self.pids), -1, dtype=np.int32)
            doc_of = np.zeros(len(self.pids), dtype=np.int64)
            for i, seg in enumerate(self.segments):
                rowmap = self._rows_of(i)
                if isinstance(rowmap, int):
                    seg_of[rowmap : rowmap + len(seg.pids)] = i
                    doc_of[rowmap : rowmap + len(seg.pids)] = np.arange(len(seg.pids))
                else:
                    live = np.flatnonzero(rowmap >= 0)
                    seg_of[rowmap[live]] = i
                    doc_of[rowmap[live]] = live
            self._maps["where"] = (seg_of, doc_of)
        seg_of, doc_of = self._maps["where"]
        segs, docs = seg_of[rows], doc_of[rows]
        out = []
        for i in range(len(self.segments)):
            at = np.flatnonzero(segs == i)
            if len(at):
                out.append((i, at, docs[at]))
        return out

    def _presence_weights(self, rows: np.ndarray, tids: list[int]) -> np.ndarray:
        """Sum over the terms of IDF * the weight of one occurrence, for the rows holding each term:
        one bit per row from the bitsets of the terms the segment has them for (8 terms' bits packed in
        a byte, weighed by a 256-entry table), else a binary search."""
        out = np.zeros(len(rows), dtype=np.float64)
        idfs = dict(zip(tids, self.idf(self.df[np.asarray(tids, dtype=np.int64)]).tolist())) if tids else {}
        for i, at, docs in self._locate(rows):
            seg = self.segments[i]
            once = 1.0 / (1.0 + self._length_norm(i)[docs])
            found = np.zeros(len(docs), dtype=np.float64)
            stacked, weights = [], []
            for tid in tids:
                if tid + 1 >= len(seg.indptr):
                    continue
                bitset = seg.bitset(tid)
                if bitset is not None:
                    stacked.append(bitset.view(np.uint8))
                    weights.append(idfs[tid])
                    continue
                a, b = int(seg.indptr[tid]), int(seg.indptr[tid + 1])
                if a < b:
                    listed = seg.docs[a:b]
                    found += idfs[tid] * (listed[np.minimum(np.searchsorted(listed, docs), b - a - 1)] == docs)
            byte, bit = docs >> 3, (docs & 7).astype(np.uint8)
            for first in range(0, len(stacked), 8):  # up to 8 terms' bits in one byte per row, weighed by a table
                group = stacked[first : first + 8]
                packed = np.zeros(len(docs), dtype=np.uint8)
                for j, bitset in enumerate(group):
                    packed |= ((bitset[byte] >> bit) & np.uint8(1)) << np.uint8(j)
                codes = np.arange(1 << len(group))
                table = ((codes[:, None] >> np.arange(len(group))) & 1) @ np.asarray(weights[first : first + 8], dtype=np.float64)
                found += table[packed]
            out[at] += found * once
        return out

    def _postings(self, tids: list[int]):
        """(rows, scores) of every live posting of the given terms, one array pair per term and segment."""
        maps = [self._rows_of(i) for i in range(len(self.segments))]
        norms = [self._length_norm(i) for i in range(len(self.segments))]
        idfs = self.idf(self.df[np.asarray(tids, dtype=np.int64)]).astype(np.float32) if tids else []
        for tid, idf in zip(tids, idfs):
            for seg, rowmap, knorm in zip(self.segments, maps, norms):
                if tid + 1 >= len(seg.indptr):
                    continue
                a, b = int(seg.indptr[tid]), int(seg.indptr[tid + 1])
                if a == b:
                    continue
                docs = seg.docs[a:b]
                tf = seg.tfs[a:b].astype(np.float32)
                score = idf * tf / (knorm[docs] + tf)
                if isinstance(rowmap, int):  # every document of the segment is live: rows follow directly
                    yield rowmap + docs.astype(np.int64), score
                    continue
                rows = rowmap[docs]
                ok = rows >= 0  # passages removed since the segment was written drop out
                yield rows[ok], score[ok]

    def _exact(self, rows: np.ndarray, tids: list[int]) -> np.ndarray:
        """Raw BM25 of the given rows (ascending) for the given term ids: binary search in each
        term's postings (documents ascend within a term) for the rows its bitset, where it has one,
        says hold it; the same arithmetic as `_raw`."""
        out = np.zeros(len(rows), dtype=np.float64)
        if not len(rows) or not tids:
            return out.astype(np.float32)
        idfs = dict(zip(tids, self.idf(self.df[np.asarray(tids)]).astype(np.float32)))
        for i, at, docs in self._locate(rows):
            seg, knorm = self.segments[i], self._length_norm(i)
            word, shift = docs >> 6, (docs & 63).astype(np.uint64)
            for tid in tids:
                if tid + 1 >= len(seg.indptr):
                    continue
                a, b = int(seg.indptr[tid]), int(seg.indptr[tid + 1])
                if a == b:
                    continue
                bitset = seg.bitset(tid)
                if bitset is not None:
                    held = np.flatnonzero((bitset[word] >> shift) & np.uint64(1))
                    if not len(held):
                        continue
                else:
                    held = np.arange(len(docs))
                listed = seg.docs[a:b]
                pos = np.minimum(np.searchsorted(listed, docs[held]), b - a - 1)
                hit = listed[pos] == docs[held]
                held, pos = held[hit], pos[hit]
                if not len(held):
                    continue
                tf = seg.tfs[a + pos].astype(np.float32)
                out[at[held]] += idfs[tid] * tf / (knorm[docs[held]] + tf)
        return out.astype(np.float32)

    def presence(self, terms: list[str], rows: np.ndarray) -> np.ndarray:
        """Whether each of the given rows holds each term (rows x terms, bool), read from the
        postings (a term's bitset where its segment has one, else a binary search: documents
        ascend within a term): no passage text is tokenised again."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros((len(rows), len(terms)), dtype=bool)
        known = {t: i for t, i in self.lookup(list(dict.fromkeys(terms))).items() if i < len(self.df) and self.df[i] > 0}
        if not known or not len(rows):
            return out
        for i, at, docs in self._locate(rows):
            seg = self.segments[i]
            for j, term in enumerate(terms):
                tid = known.get(term)
                if tid is None or tid + 1 >= len(seg.indptr):
                    continue
                bitset = seg.bitset(tid)
                if bitset is not None:
                    out[at, j] = ((bitset[docs >> 6] >> (docs & 63).astype(np.uint64)) & np.uint64(1)).astype(bool)
                    continue
                a, b = int(seg.indptr[tid]), int(seg.indptr[tid + 1])
                if a == b:
                    continue
                listed = seg.docs[a:b]
                pos = np.minimum(np.searchsorted(listed, docs), b - a - 1)
                out[at[listed[pos] == docs], j] = True
        return out

    def sparse(self, question: str) -> tuple[np.ndarray, np.ndarray]:
        """Rows with a non-zero score (ascending) and their normalised scores."""
        rows, sums, norm = self._raw(self.tokens(question))
        return rows, (sums / norm if norm > 0 else sums)

    def raw_scores(self, question: str) -> tuple[np.ndarray, list[str]]:
        """Unnormalised BM25 of every row (a dense array: for tests and tools), and the question's terms."""
        terms = self.tokens(question)
        rows, sums, _ = self._raw(terms)
        scores = np.zeros(len(self.pids), dtype=np.float32)
        scores[rows] = sums
        return scores, terms

    def scores(self, question: str) -> np.ndarray:
        rows, values = self.sparse(question)
        scores = np.zeros(len(self.pids), dtype=np.float32)
        scores[rows] = values
        return scores


def segment_terms(seg: Segment) -> np.ndarray:
    """The term id of every posting of a segment."""
    return np.repeat(np.arange(len(seg.indptr) - 1, dtype=np.int64), np.diff(seg.indptr))
