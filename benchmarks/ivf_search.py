"""IVF search alone on a kept index: without FAISS's prefetch threads (the product's setting) and with them.

    python -m benchmarks.ivf_search DIR [--questions N] [--rounds R] [--drop-caches]

DIR/index is an index past 50,000 passages (e.g. from `--only scale --keep DIR`). Each setting runs in a
fresh process, alternating, R rounds: N random unit questions through the base index's search (100
results, one thread, nprobe as the product sets it), then the same N again, p50 / p99 of each pass.
--drop-caches empties the page cache before every process (needs root), for a cold disk.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

FAISS_DEFAULT = 32  # OnDiskInvertedLists.prefetch_nthread as FAISS sets it


def child(index: Path, threads: int, n: int) -> dict:
    """One process: the passes' latencies with `threads` prefetch threads (0: the product's setting)."""
    import faiss

    from qa_bot import index as index_mod

    stored = index_mod.load(index)
    ivf = faiss.try_extract_index_ivf(stored.vectors.base) if stored.vectors.faiss else None
    lists = faiss.downcast_InvertedLists(ivf.invlists) if ivf is not None else None
    if not isinstance(lists, faiss.OnDiskInvertedLists):
        return {"error": f"{index} has no memory-mapped IVF lists (an exact index, or under 50,000 passages)"}
    lists.prefetch_nthread = threads
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(7)
    qs = rng.standard_normal((n, stored.dimension)).astype(np.float32)
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)
    out = {}
    for name in ("first", "second"):
        lat = []
        for q in qs:
            t = time.perf_counter()
            stored.vectors.base.search(q[None, :], 100)
            lat.append((time.perf_counter() - t) * 1000)
        out[name] = [float(np.percentile(lat, 50)), float(np.percentile(lat, 99))]
    return out


def _drop_caches() -> bool:
    subprocess.run(["sync"], check=False)
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path, help="folder with index/ (python -m benchmarks --only scale --keep DIR)")
    ap.add_argument("--questions", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--drop-caches", action="store_true", help="empty the page cache before each process (root)")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.dir / "index", args.child, args.questions)))
        return
    print(f"IVF search alone, {args.dir / 'index'}: {args.questions} random questions, two passes, top 100"
          + (", page cache emptied before each process" if args.drop_caches else ""))
    for _ in range(args.rounds):
        for threads, label in ((0, "no prefetch threads (product)"), (FAISS_DEFAULT, "FAISS default prefetch")):
            if args.drop_caches and not _drop_caches():
                sys.exit("--drop-caches needs root (it writes /proc/sys/vm/drop_caches)")
            done = subprocess.run([sys.executable, "-m", "benchmarks.ivf_search", str(args.dir), "--child", str(threads),
                                   "--questions", str(args.questions)], capture_output=True, text=True)
            try:
                got = json.loads(done.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                sys.exit(f"the measuring process failed: {(done.stderr.strip().splitlines() or ['no output'])[-1]}")
            if "error" in got:
                sys.exit(got["error"])
            print(f"  {label:32s} first pass p50 {got['first'][0]:6.2f} p99 {got['first'][1]:6.2f} ms   "
                  f"second pass p50 {got['second'][0]:6.2f} p99 {got['second'][1]:6.2f} ms")


if __name__ == "__main__":
    main()
