"""Assign tune/test splits to a blind seeds question set (run once, when the set was written).

Rule: group the questions by (kind, lang); go through the groups in sorted order with one
random.Random(SEED), shuffle each group's positions, put the first round(0.5 * n) in `tune` and the
rest in `test`. Never re-run it on a set that is already split (the split must not change).
SEED is 4 for tests/data/seeds_blind_questions.jsonl (the default), 5 for
tests/data/seeds_blind5_questions.jsonl and 6 for tests/data/seeds_blind6_questions.jsonl, 7 for
tests/data/seeds_blind7_questions.jsonl, 8 for tests/data/seeds_blind8_questions.jsonl, 9 for
tests/data/seeds_blind9_questions.jsonl, 10 for tests/data/seeds_blind10_questions.jsonl, 11 for
tests/data/seeds_blind11_questions.jsonl, 12 for tests/data/seeds_blind12_questions.jsonl, 13 for
tests/data/seeds_blind13_questions.jsonl, 14 for tests/data/seeds_blind14_questions.jsonl, 15 for
tests/data/realdocs_blind_questions.jsonl, 16 for tests/data/seeds_blind15_questions.jsonl, 17 for
tests/data/realdocs_blind16_questions.jsonl, 18 for tests/data/seeds_blind16_questions.jsonl, 19 for
tests/data/realdocs_blind17_questions.jsonl, 20 for tests/data/seeds_blind17_questions.jsonl, 21 for
tests/data/realdocs_blind18_questions.jsonl, 22 for tests/data/seeds_blind18_questions.jsonl, 23 for
tests/data/realdocs_blind19_questions.jsonl, 24 for tests/data/seeds_blind19_questions.jsonl and 25 for
tests/data/realdocs_blind20_questions.jsonl.

Usage: python scripts/split_blind.py [PATH [SEED]]
"""
from __future__ import annotations

import collections
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "tests/data/seeds_blind_questions.jsonl"


def assign(records: list[dict], seed: int = 4) -> None:
    """Set each record's split in place by the rule above."""
    groups: dict[tuple[str, str], list[int]] = collections.defaultdict(list)
    for position, rec in enumerate(records):
        groups[(rec["kind"], rec["lang"])].append(position)
    rng = random.Random(seed)
    for key in sorted(groups):
        positions = groups[key][:]
        rng.shuffle(positions)
        cut = round(0.5 * len(positions))
        for rank, position in enumerate(positions):
            records[position]["split"] = "tune" if rank < cut else "test"


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    assign(records, seed)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    counts = collections.Counter((r["kind"], r["lang"], r["split"]) for r in records)
    for key, count in sorted(counts.items()):
        print(*key, count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
