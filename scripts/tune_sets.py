"""English figures over every question set tuned on, in one process ("the tune sets" of docs/quality.md).

    PYTHONPATH=. .venv/bin/python scripts/tune_sets.py --seeds-index /tmp/r9 --dev-index /tmp/dev [-v] [--near]

Build the two indexes once with `qa-bot eval`, which copies the corpora into INDEX/corpus:

    .venv/bin/qa-bot eval --questions tests/data/seeds_blind14_questions.jsonl --split tune --corpus seeds --index /tmp/r9
    .venv/bin/qa-bot eval --questions tests/data/dev_questions.jsonl --split tune --corpus seeds --corpus ../shared/realdocs --index /tmp/dev

Per set and in total: hit@1 / hit@3 (a gold passage first / in the top three), answerable and
metadata questions not `answered`, near-topic questions not `answered`, off-topic ones `none`.
Sets: the blind-18, blind-17, blind-16, blind-15 and blind-14 tune halves, the blind sets up to 13 whole (their test halves have been
run and read), the old seeds questions, the dev tune split and the five realdocs blind tune halves (over the dev
index: seeds and realdocs). The blind-18, blind-17, blind-16, blind-15, blind-14, dev and the five realdocs blind test halves are never
read. -v lists each English answerable question not ranked first or not answered; --near each near-topic one answered.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa_bot import engine, evaluate  # noqa: E402
from qa_bot.config import Settings  # noqa: E402
from qa_bot.query import clean_question  # noqa: E402

DATA = ROOT / "tests" / "data"
SETS = [("r19 tune", "seeds_blind19_questions.jsonl", "tune", "seeds"), ("r18 tune", "seeds_blind18_questions.jsonl", "tune", "seeds"), ("r17 tune", "seeds_blind17_questions.jsonl", "tune", "seeds"), ("r16 tune", "seeds_blind16_questions.jsonl", "tune", "seeds"), ("r15 tune", "seeds_blind15_questions.jsonl", "tune", "seeds"),
        ("r14 tune", "seeds_blind14_questions.jsonl", "tune", "seeds"), ("r13", "seeds_blind13_questions.jsonl", None, "seeds"),
        ("r12", "seeds_blind12_questions.jsonl", None, "seeds"),
        ("r11", "seeds_blind11_questions.jsonl", None, "seeds"),
        ("r10", "seeds_blind10_questions.jsonl", None, "seeds"), ("r9", "seeds_blind9_questions.jsonl", None, "seeds"),
        ("r8", "seeds_blind8_questions.jsonl", None, "seeds"),
        ("r7", "seeds_blind7_questions.jsonl", None, "seeds"),
        ("r6", "seeds_blind6_questions.jsonl", None, "seeds"), ("r5", "seeds_blind5_questions.jsonl", None, "seeds"),
        ("r4", "seeds_blind_questions.jsonl", None, "seeds"), ("old", "seeds_questions.jsonl", None, "seeds"),
        ("dev tune", "dev_questions.jsonl", "tune", "dev"),
        ("rd tune", "realdocs_blind_questions.jsonl", "tune", "dev"),
        ("rd16 tune", "realdocs_blind16_questions.jsonl", "tune", "dev"),
        ("rd17 tune", "realdocs_blind17_questions.jsonl", "tune", "dev"),
        ("rd18 tune", "realdocs_blind18_questions.jsonl", "tune", "dev"),
        ("rd19 tune", "realdocs_blind19_questions.jsonl", "tune", "dev"),
        ("rd20 tune", "realdocs_blind20_questions.jsonl", "tune", "dev")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds-index", type=Path, required=True)
    ap.add_argument("--dev-index", type=Path, required=True)
    ap.add_argument("-v", action="store_true", help="list each English answerable question not ranked first or not answered")
    ap.add_argument("--near", action="store_true", help="list each near-topic question answered")
    args = ap.parse_args()
    indexes = {"seeds": args.seeds_index, "dev": args.dev_index}
    retrievers = {}
    total = dict(n=0, h1=0, h3=0, lost=0, near=0, near_n=0, off=0, off_n=0)
    for name, file, split, corpus in SETS:
        if corpus not in retrievers:
            index = indexes[corpus]
            retrievers[corpus] = engine.open_retriever(dataclasses.replace(Settings(), docs=index / "corpus", index=index),
                                                       progress=False)
        ret = retrievers[corpus]
        got = dict.fromkeys(total, 0)
        for q in evaluate.load_questions(DATA / file, split):
            if (q.lang or "en") != "en":
                continue
            r, verdict, _ = ret.decide(clean_question(q.question))
            if q.kind in ("answerable", "metadata", ""):
                rank = next((i + 1 for i, row in enumerate(r.rows[:10]) if evaluate.is_hit(ret.passages[int(row)], q)), None)
                got["n"] += 1
                got["h1"] += rank == 1
                got["h3"] += bool(rank and rank <= 3)
                got["lost"] += verdict != "answered"
                if args.v and (rank != 1 or verdict != "answered"):
                    print(f"   {name} {q.id} rank={rank} {verdict:8} {q.question}")
            elif q.kind == "near-topic":
                got["near_n"] += 1
                got["near"] += verdict != "answered"
                if args.near and verdict == "answered":
                    print(f"   {name} {q.id} NEAR answered {q.question}")
            elif q.kind == "off-topic":
                got["off_n"] += 1
                got["off"] += verdict == "none"
        print(f"{name:9} hit@1 {got['h1']}/{got['n']}  hit@3 {got['h3']}/{got['n']}  lost {got['lost']}  "
              f"near-topic held back {got['near']}/{got['near_n']}  off-topic none {got['off']}/{got['off_n']}", flush=True)
        for k in total:
            total[k] += got[k]
    print(f"{'total':9} hit@1 {total['h1']}/{total['n']}  hit@3 {total['h3']}/{total['n']}  lost {total['lost']}  "
          f"near-topic held back {total['near']}/{total['near_n']}  off-topic none {total['off']}/{total['off_n']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
