"""Train the re-ranking model (qa_bot/rerank_model.json) of the top fused candidates.

    PYTHONPATH=. .venv/bin/python scripts/train_rerank.py --dev tests/data/dev_questions.jsonl \
        --dev tests/data/realdocs_blind_questions.jsonl --seeds-tune tests/data/seeds_blind14_questions.jsonl \
        --seeds-tune tests/data/seeds_blind15_questions.jsonl --whole tests/data/seeds_blind_questions.jsonl \
        --whole tests/data/seeds_blind5_questions.jsonl ... --whole tests/data/seeds_blind13_questions.jsonl [--cache DIR] [--cv]

(the committed model, round 12: exactly these files, every --whole from seeds_blind_questions.jsonl and
seeds_blind5 to seeds_blind13, at the product's fusion weight; docs/quality.md, round 12)

Examples: for each question, the top rerank.DEPTH candidates of the fused ranking (re-ranker
and title-page rule off) with rerank.FEATURES; a candidate is positive when it is a gold
passage. Questions come from SciFact train claims (../shared/bench/scifact), the old seeds
questions (tests/data/seeds_questions.jsonl), the realdocs questions
(tests/data/realdocs_questions.jsonl), the tune split of --dev (over seeds and realdocs) and of
--seeds-tune (over the seeds), and --whole files in full (blind seeds sets whose test halves were
run and read in earlier rounds); the test halves of the sets still measured are never read. The fit is a pairwise logistic regression (each gold passage against each other candidate
of its question, Newton's method, L2), each source weighing the same; deterministic, so the same
data gives the same JSON. --cv prints leave-one-source-out and 5-fold figures instead of writing.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from qa_bot import engine, evaluate, rerank, search  # noqa: E402
from qa_bot.config import PROJECT_ROOT, Settings  # noqa: E402
from qa_bot.query import clean_question  # noqa: E402

import train_verdict  # noqa: E402  (the same retrievers and folders as the verdict model)

L2 = 0.3  # round 12: the best of 0.1-10 by leave-one-set-out hit@1 and SciFact nDCG@10 together
REALDOCS_QUESTIONS = ROOT / "tests" / "data" / "realdocs_questions.jsonl"


def collect(retriever, items, group: str, qrels: list[dict] | None = None) -> list[dict]:
    """One record per question: features and gold labels of the top candidates, and for SciFact
    the documents of every candidate (for nDCG@10 after re-ranking)."""
    out = []
    for n, (text, gold) in enumerate(items):
        r = retriever.ranking(clean_question(text))
        k = min(rerank.DEPTH, len(r.rows))
        if k < 2:
            continue
        x = rerank.features(retriever, r.rows[:k], r.score[:k], r.cos[:k], r.sent[:k], r.lex[:k], r.info, r.qvec,
                            retriever.respell(r.info.text))
        y = np.array([int(row) in gold for row in r.rows[:k]], dtype=bool)
        rec = {"group": group, "question": text, "x": x, "y": y}
        if qrels is not None:
            rec["docs"] = [retriever.passages[int(row)].source for row in r.rows[:200]]
            rec["qrels"] = qrels[n]
        out.append(rec)
    return out


def gather(args) -> list[dict]:
    search.RERANK, search.TITLE_PAGE = False, False  # the fused order the model re-ranks
    train_verdict.FITTED_ALPHA = args.alpha
    train_verdict.SHARED = args.shared or train_verdict.SHARED
    seeds = train_verdict.folder_retriever(train_verdict.SEEDS, args.cache)
    scifact, data = train_verdict.scifact_retriever(args.cache)
    by_source: dict[str, list[int]] = {}
    for i, p in enumerate(scifact.passages):
        by_source.setdefault(p.source, []).append(i)
    qids = [q for q in sorted(data.qrels) if q in data.queries]
    claims = [(data.queries[q], {i for d, rel in data.qrels[q].items() if rel > 0 for i in by_source.get(d, [])})
              for q in qids]
    recs = collect(scifact, claims, "scifact", [data.qrels[q] for q in qids])
    combined = None
    if args.dev:
        docs = evaluate.combined_docs(args.corpus or [train_verdict.SEEDS, train_verdict.SHARED / "realdocs"],
                                      args.cache / "train-corpus" / "corpus")
        combined = train_verdict.fitted(engine.open_retriever(Settings(docs=docs, index=args.cache / "train-corpus"),
                                                              progress=False))
    files = [evaluate.DEFAULT_QUESTIONS] + (args.dev or [])
    for group, retriever, items in train_verdict.question_sets(files, lambda q: combined if q.split else seeds):
        recs += collect(retriever, [(t, g) for t, g in items if g is not None], group)
    for group, retriever, items in train_verdict.question_sets(args.whole or [], lambda q: seeds, whole=True):
        recs += collect(retriever, [(t, g) for t, g in items if g is not None], group)
    for group, retriever, items in train_verdict.question_sets(args.seeds_tune or [], lambda q: seeds):
        recs += collect(retriever, [(t, g) for t, g in items if g is not None], group)
    if combined is not None:
        recs += collect(combined, realdocs_questions(combined), "realdocs_questions")
    search.RERANK, search.TITLE_PAGE = True, True
    return recs


def realdocs_questions(retriever) -> list[tuple[str, set[int]]]:
    """tests/data/realdocs_questions.jsonl (written with the documents readers, never split, no
    test questions): gold rows are the gold file's passages that contain the gold phrase."""
    from qa_bot.documents.check import norm

    out = []
    for line in REALDOCS_QUESTIONS.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        q = json.loads(line)
        gold = {i for i, p in enumerate(retriever.passages)
                if any(p.source == g["source"] and norm(g["contains"]) in norm(p.text) for g in q["gold"])}
        if gold:
            out.append((q["question"], gold))
    return out


def standardise(recs: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    x = np.concatenate([r["x"] for r in recs])
    mean, scale = x.mean(0), x.std(0)
    scale[scale < 1e-9] = 1.0
    return mean, scale


def fit(recs: list[dict], l2: float = L2, mask: np.ndarray | None = None) -> rerank.RerankModel:
    """Pairwise logistic regression (no intercept) on standardised features; each source weighs
    the same in all, each question the same within its source."""
    mean, scale = standardise(recs)
    groups: dict[str, int] = {}
    for r in recs:
        if r["y"].any() and not r["y"].all():
            groups[r["group"]] = groups.get(r["group"], 0) + 1
    diffs, weights = [], []
    for r in recs:
        y = r["y"]
        if not y.any() or y.all():
            continue
        z = (r["x"] - mean) / scale
        d = (z[y][:, None, :] - z[~y][None, :, :]).reshape(-1, z.shape[1])
        diffs.append(d)
        weights.append(np.full(len(d), 1.0 / (len(d) * groups[r["group"]])))
    d = np.concatenate(diffs)
    w = np.concatenate(weights)
    w *= len(groups) * 100 / w.sum()  # L2 is then per 100 questions of each source
    if mask is not None:
        d = d * mask
    beta = np.zeros(d.shape[1])
    for _ in range(50):  # Newton's method on the weighted, L2-penalised logistic loss of 1 on d
        p = 1 / (1 + np.exp(-(d @ beta)))
        grad = d.T @ (w * (p - 1)) + l2 * beta
        hess = (d * (w * p * (1 - p))[:, None]).T @ d + l2 * np.eye(len(beta))
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    return rerank.RerankModel(rerank.FEATURES, mean, scale, np.round(beta, 6))


def ndcg_docs(docs: list[str], qrels: dict[str, int], k: int = 10) -> float:
    seen = list(dict.fromkeys(docs))
    return evaluate.ndcg_at_k(seen, qrels, k)


def measure(recs: list[dict], model: rerank.RerankModel | None) -> dict:
    """hit@1, hit@3 (and nDCG@10 for SciFact) with the model's order, or the fused one."""
    h1 = h3 = nd = 0.0
    for r in recs:
        order = np.arange(len(r["y"])) if model is None else np.argsort(-model.scores(r["x"]), kind="stable")
        y = r["y"][order]
        h1 += bool(y[:1].any())
        h3 += bool(y[:3].any())
        if "docs" in r:
            k = len(order)
            nd += ndcg_docs([r["docs"][i] for i in order] + r["docs"][k:], r["qrels"])
    n = max(len(recs), 1)
    out = {"n": len(recs), "hit@1": h1 / n, "hit@3": h3 / n}
    if recs and "docs" in recs[0]:
        out["ndcg@10"] = nd / n
    return out


def fmt(m: dict) -> str:
    return " ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in m.items())


def cross_validate(recs: list[dict], l2: float, mask: np.ndarray | None = None, folds: int = 5) -> dict:
    """Held-out figures per source: leave-one-source-out, and k-fold within each source (the other
    sources always in training)."""
    out = {}
    groups = sorted({r["group"] for r in recs})
    for g in groups:
        test = [r for r in recs if r["group"] == g]
        loso = fit([r for r in recs if r["group"] != g], l2, mask)
        preds = {}
        for f in range(folds):
            held = [r for i, r in enumerate(test) if i % folds == f]
            model = fit([r for r in recs if r["group"] != g] + [r for i, r in enumerate(test) if i % folds != f], l2, mask)
            preds[f] = (held, model)
        kfold = {"n": 0, "hit@1": 0.0, "hit@3": 0.0}
        parts = [measure(h, m) for h, m in preds.values()]
        total = sum(p["n"] for p in parts)
        kfold = {k: sum(p[k] * p["n"] for p in parts) / total for k in parts[0] if k != "n"}
        out[g] = {"before": measure(test, None), "loso": measure(test, loso), "kfold": kfold}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=PROJECT_ROOT / "embeddings", help="where indexes are built and reused")
    ap.add_argument("--dev", type=Path, action="append", help="a question file with tune/test splits (repeat for more); only its tune split is read")
    ap.add_argument("--corpus", type=Path, action="append", help="folders the --dev questions are about")
    ap.add_argument("--whole", type=Path, action="append", help="a seeds question file read whole, every split "
                    "(a blind set whose test half has been run and read; repeat for more)")
    ap.add_argument("--seeds-tune", type=Path, action="append", help="a blind seeds question file: its tune split, over the seeds alone")
    ap.add_argument("--alpha", type=float, default=search.HYBRID_ALPHA,
                    help="fusion weight of the training retrievers (default: the product's)")
    ap.add_argument("--shared", type=Path, default=None, help="the shared data folder (bench/scifact, realdocs)")
    ap.add_argument("--examples", type=Path, help="a pickle of the examples: read when it exists, else written")
    ap.add_argument("--l2", type=float, default=L2)
    ap.add_argument("--drop", default="", help="comma-separated features left out (for --cv)")
    ap.add_argument("--cv", action="store_true", help="print held-out figures; write nothing")
    ap.add_argument("--out", type=Path, default=rerank.MODEL_FILE)
    args = ap.parse_args()
    if args.examples and args.examples.exists():
        recs = pickle.loads(args.examples.read_bytes())
    else:
        recs = gather(args)
        if args.examples:
            args.examples.write_bytes(pickle.dumps(recs))
    mask = None
    if args.drop:
        drop = set(args.drop.split(","))
        unknown = drop - set(rerank.FEATURES)
        if unknown:
            sys.exit(f"unknown features: {sorted(unknown)}")
        mask = np.array([f not in drop for f in rerank.FEATURES], dtype=np.float64)
    if args.cv:
        for g, m in cross_validate(recs, args.l2, mask).items():
            print(f"{g:>16} before: {fmt(m['before'])}")
            print(f"{'':>16} loso  : {fmt(m['loso'])}")
            print(f"{'':>16} 5-fold: {fmt(m['kfold'])}")
        return
    model = fit(recs, args.l2, mask)
    for g in sorted({r["group"] for r in recs}):
        sel = [r for r in recs if r["group"] == g]
        print(f"{g:>16} before: {fmt(measure(sel, None))}  after (trained on): {fmt(measure(sel, model))}")
    print("weights", dict(zip(rerank.FEATURES, np.round(model.weights, 3).tolist())))
    rec = model.to_json()
    rec["l2"] = args.l2
    rec["trained_on"] = {g: sum(r["group"] == g for r in recs) for g in sorted({r["group"] for r in recs})}
    args.out.write_text(json.dumps(rec, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
