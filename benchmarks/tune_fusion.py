"""Compare fusion methods for hybrid ranking on SciFact's train split and the seeds questions.

    .venv/bin/python -m benchmarks.tune_fusion [--split train]

Prints nDCG@10 for dense, BM25, reciprocal rank fusion and convex combinations of
normalised scores over a grid of weights. Never run it on the test split to choose anything.
"""

from __future__ import annotations

import argparse

import numpy as np

from qa_bot.config import PROJECT_ROOT
from qa_bot.embed import load_encoder
from qa_bot.evaluate import beir_index, load_beir, ndcg_at_k
from qa_bot.documents import split_sentences
from qa_bot.lexical import Lexical

# ../shared from the project root (or from a worktree one level further down).
SCIFACT = next((p / "shared" / "bench" / "scifact" for p in (PROJECT_ROOT.parent, PROJECT_ROOT.parent.parent)
                if (p / "shared" / "bench" / "scifact").is_dir()), PROJECT_ROOT.parent / "shared" / "bench" / "scifact")


def doc_ranking(scores: np.ndarray, sources: np.ndarray, n: int = 100) -> list[str]:
    order = np.argsort(-scores, kind="stable")[: n * 3]
    seen: dict[str, None] = {}
    for i in order:
        seen.setdefault(sources[i])
        if len(seen) >= n:
            break
    return list(seen)


def rrf(*score_lists: np.ndarray, k: int = 60) -> np.ndarray:
    out = np.zeros_like(score_lists[0], dtype=np.float64)
    for s in score_lists:
        ranks = np.empty(len(s), dtype=np.int64)
        ranks[np.argsort(-s, kind="stable")] = np.arange(1, len(s) + 1)
        out += 1.0 / (k + ranks)
    return out


def minmax(s: np.ndarray, top: int = 100) -> np.ndarray:
    cand = np.sort(s)[-top:]
    lo, hi = float(cand[0]), float(cand[-1])
    return np.clip((s - lo) / (hi - lo), 0, None) if hi > lo else np.zeros_like(s)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="train")
    args = ap.parse_args()
    enc = load_encoder("all-MiniLM-L6-v2")
    data = load_beir(SCIFACT, args.split)
    stored = beir_index(data, enc, PROJECT_ROOT / "embeddings" / "beir-scifact", progress=True)
    passages = stored.passages
    sources = np.array([p.source for p in passages])
    vecs = stored.all_vectors()
    lex = Lexical.build([f"{p.title} {p.text}" for p in passages])
    qids = [q for q in data.qrels if q in data.queries]
    qvecs = enc.encode([data.queries[q] for q in qids])
    dense = qvecs @ vecs.T
    bm25 = np.stack([lex.scores(data.queries[q]) for q in qids])
    bm25_raw = np.stack([lex.raw_scores(data.queries[q])[0] for q in qids])

    def score(fn) -> float:
        return float(np.mean([ndcg_at_k(doc_ranking(fn(i), sources), data.qrels[q]) for i, q in enumerate(qids)]))

    print(f"SciFact {args.split}: {len(qids)} queries, {len(passages)} passages")
    print(f"dense                     {score(lambda i: dense[i]):.4f}")
    print(f"bm25                      {score(lambda i: bm25_raw[i]):.4f}")
    for k in (10, 30, 60):
        print(f"rrf k={k:<3}                {score(lambda i: rrf(dense[i], bm25_raw[i], k=k)):.4f}")
    for a in (0.3, 0.4, 0.5, 0.6, 0.7):
        print(f"convex min-max a={a:.1f}      {score(lambda i: a * minmax(dense[i]) + (1 - a) * minmax(bm25_raw[i])):.4f}")
    for a in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        print(f"convex idf-norm a={a:.1f}     {score(lambda i: a * dense[i] + (1 - a) * bm25[i]):.4f}")

    # Sentence-level dense: each passage also scores as its best sentence.
    cache = PROJECT_ROOT / "embeddings" / "beir-scifact" / "tune-sentences.npy"
    owner, sents = [], []
    for row, p in enumerate(passages):
        for sent in split_sentences(p.text):
            owner.append(row)
            sents.append(sent)
    owner = np.array(owner)
    if stored.sentence_vectors is not None and stored.sentence_vectors.shape[0] == len(sents):
        svecs = np.asarray(stored.sentence_vectors, dtype=np.float32)
    elif cache.exists() and np.load(cache).shape[0] == len(sents):
        svecs = np.load(cache)
    else:
        svecs = enc.encode(sents, progress=True)
        np.save(cache, svecs)
    best = np.full((len(qids), len(passages)), -1.0, dtype=np.float32)
    ssc = qvecs @ svecs.T
    for i in range(len(qids)):
        np.maximum.at(best[i], owner, ssc[i])
    for sw in (0.0, 0.3, 0.5, 0.6, 0.7, 1.0):
        mixed = (1 - sw) * dense + sw * best
        print(f"dense, sentence weight {sw:.1f}   {score(lambda i: mixed[i]):.4f}")
        for a in (0.3, 0.4, 0.5, 0.6):
            print(f"  hybrid sw={sw:.1f} a={a:.1f}      {score(lambda i: a * mixed[i] + (1 - a) * bm25[i]):.4f}")


if __name__ == "__main__":
    main()
