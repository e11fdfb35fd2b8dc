"""Index storage at scale: cold ask, warm queries, a one-paragraph edit, build memory, staleness check.

    python -m benchmarks --only scale [--passages N] [--keep DIR]

Passages are real-like text (60-120 words in 4-7 sentences, words drawn by frequency from the
SciFact corpus, or the seeds when SciFact is absent) in 50,000 files. They are embedded by a FAKE
ENCODER that returns random unit vectors (embedding a million paragraphs with the real model takes
hours here); questions, and the edited paragraph, are embedded with the real model (the ONNX
export recorded with the index). With --keep DIR the docs folder and index stay in DIR/docs and
DIR/index, so anyone can time `qa-bot ask --docs DIR/docs --index DIR/index "..."` by hand, or
re-time the query-side figures on it without rebuilding: `python -m benchmarks.scale DIR`.
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import warm_latencies

ROOT = Path(__file__).resolve().parent.parent
SCIFACT = ROOT.parent / "shared" / "bench" / "scifact"
PY = sys.executable
QA = [PY, "-m", "qa_bot.cli"]
FILES = 50_000


class FakeEncoder:
    """FAKE: random unit vectors, with the real model's name, size and limits (storage benchmark only)."""

    def __init__(self, name: str, dimension: int = 384, max_tokens: int = 254):
        self.name, self.dimension, self.max_tokens = name, dimension, max_tokens
        self.texts_encoded = 0
        self.rng = np.random.default_rng(0)

    def count_tokens(self, text: str) -> int:
        return int(len(text.split()) * 1.3) + 1

    def encode(self, texts, progress=False, desc="embedding"):
        self.texts_encoded += len(texts)
        x = self.rng.standard_normal((len(texts), self.dimension), dtype=np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)


def vocabulary() -> tuple[list[str], np.ndarray]:
    """Words and their frequencies from a real corpus."""
    counts: collections.Counter = collections.Counter()
    if (SCIFACT / "corpus.jsonl").exists():
        with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                counts.update(re.findall(r"[A-Za-z][a-z]+", json.loads(line)["text"]))
                if i > 3000:
                    break
    else:
        for f in (ROOT / "seeds").glob("*.txt"):
            counts.update(re.findall(r"[A-Za-z][a-z]+", f.read_text(encoding="utf-8")))
    words = [w for w, _ in counts.most_common(30_000)]
    freq = np.array([counts[w] for w in words], dtype=np.float64)
    return words, freq / freq.sum()


def write_docs(docs: Path, n: int, seed: int = 0) -> None:
    """n paragraphs of 60-120 words in FILES files (fewer when n is small), blank lines between them."""
    words, p = vocabulary()
    rng = np.random.default_rng(seed)
    files = min(FILES, max(1, n // 2))
    per = np.full(files, n // files)
    per[: n - per.sum()] += 1
    docs.mkdir(parents=True, exist_ok=True)
    vocab = np.array(words, dtype=object)
    for f in range(files):
        paragraphs = []
        for _ in range(per[f]):
            k = int(rng.integers(4, 8))
            lengths = rng.multinomial(int(rng.integers(60, 121)) - k * 8, np.ones(k) / k) + 8
            drawn = vocab[rng.choice(len(words), int(lengths.sum()), p=p)]
            sentences, at = [], 0
            for length in lengths:
                s = " ".join(drawn[at : at + length])
                at += length
                sentences.append(s[0].upper() + s[1:] + ".")
            paragraphs.append(" ".join(sentences))
        sub = docs / f"{f // 1000:03d}"
        sub.mkdir(exist_ok=True)
        (sub / f"doc{f:05d}.txt").write_text(f"Document {f}\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")


def build_fake(docs: Path, index: Path) -> None:
    """Index docs with the fake encoder, recording the real model's ONNX export for questions."""
    from qa_bot import encoders, index as index_mod
    from qa_bot.config import DEFAULT_MODEL, Settings

    settings = Settings(docs=docs, index=index)
    _, meta = encoders.embedder_for(settings, index, "onnx-int8")
    index_mod.update(index, docs, FakeEncoder(DEFAULT_MODEL), progress=True, meta=meta)


def _timed(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB) and stdout of one fresh process."""
    wrapper = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
               "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
               "sys.stderr.write(p.stderr); "
               "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); print(p.stdout)")
    out = subprocess.run([PY, "-c", wrapper, *cmd], capture_output=True, text=True, env=dict(os.environ))
    if out.returncode != 0 or not out.stdout.strip():
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}\n{out.stderr[-2000:]}")
    first, _, rest = out.stdout.partition("\n")
    seconds, kib = first.split()
    return float(seconds), int(kib) / 1024, rest


def cold_asks(docs: Path, index: Path, questions: list[str], runs: int = 5) -> dict:
    """Cold `qa-bot ask`: process start to answer, the staleness check of every file included (medians)."""
    cold, rss = [], []
    for q in questions[:runs]:
        t, m, out = _timed([*QA, "ask", "--json", "--docs", str(docs), "--index", str(index), q])
        assert json.loads(out)["query"], out
        cold.append(t)
        rss.append(m)
    return {"cold_ask_s": statistics.median(cold), "cold_ask_peak_rss_mib": statistics.median(rss)}


def bench_storage(n: int, keep: str | None, record) -> None:
    print(f"index storage at {n:,} passages (FAKE encoder: random unit vectors; questions use the real model)")
    root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="qa-bot-scale-"))
    docs, index = root / "docs", root / "index"
    section = f"storage {n // 1000}k"
    try:
        if not docs.exists():
            t = time.perf_counter()
            write_docs(docs, n)
            print(f"  wrote {n:,} paragraphs into {docs} in {time.perf_counter() - t:.0f} s", flush=True)
        shutil.rmtree(index, ignore_errors=True)
        build_s, build_mib, _ = _timed([PY, "-c", "import sys; from pathlib import Path; from benchmarks.scale import build_fake; "
                                        "build_fake(Path(sys.argv[1]), Path(sys.argv[2]))", str(docs), str(index)])
        from qa_bot import index as index_mod

        stored = index_mod.load(index)
        record(section, passages=len(stored), files=len(stored.files), build_s=build_s, build_peak_rss_mib=build_mib,
               vector_index=stored.info["vector_kind"])
        questions = []
        for p in stored.passages[: 200 : 1] if len(stored) >= 200 else stored.passages:
            questions.append(" ".join(p.text.split()[3:12]) + "?")
        record(section, **cold_asks(docs, index, questions))
        # warm queries in one process
        from qa_bot import engine
        from qa_bot.config import Settings
        from qa_bot.search import Retriever

        retriever = Retriever(stored, engine.query_encoder(stored, Settings(docs=docs, index=index)))
        retriever.lexical
        lat = warm_latencies(retriever, questions)
        record(section, warm_p50_ms=float(np.percentile(lat, 50)), warm_p99_ms=float(np.percentile(lat, 99)))
        record(section, **bm25_overlap(retriever.lexical, questions))
        # no-change staleness check: one walk of the folder
        stale = []
        for _ in range(5):
            t = time.perf_counter()
            assert not index_mod.is_stale(stored, docs)
            stale.append(time.perf_counter() - t)
        record(section, staleness_check_s=statistics.median(stale), staleness_files=len(stored.files))
        del retriever, stored
        # one-paragraph edit, re-indexed by `qa-bot index` (the real model embeds the new text)
        target = sorted((docs / "000").glob("*.txt"))[0]
        text = target.read_text(encoding="utf-8")
        target.write_text(text.replace(".", ". The harbour master approved the new timetable on Tuesday.", 1), encoding="utf-8")
        edit_s, edit_mib, out = _timed([*QA, "index", "--docs", str(docs), "--index", str(index)])
        print("  " + out.strip().splitlines()[-1], flush=True)
        record(section, edit_s=edit_s, edit_peak_rss_mib=edit_mib)
        t, m, out = _timed([*QA, "ask", "--json", "--docs", str(docs), "--index", str(index),
                            "When did the harbour master approve the timetable?"])
        record(section, after_edit_top_source=json.loads(out)["results"][0]["source"] if json.loads(out)["results"] else "-")
        disk = sum(f.stat().st_size for f in index.rglob("*") if f.is_file())
        record(section, index_mib=disk / 2**20)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def bm25_overlap(lexical, questions: list[str]) -> dict:
    """How much of the exhaustive BM25 top 10 / top 100 `Lexical.top` returns (it is approximate
    past EXACT_POSTINGS), and its median time against scoring every posting."""
    shares: dict[int, list[float]] = {10: [], 100: []}
    fast, full = [], []
    for q in questions:
        t = time.perf_counter()
        rows, scores = lexical.sparse(q)
        full.append(time.perf_counter() - t)
        t = time.perf_counter()
        got, got_scores = lexical.top(q, 100)
        fast.append(time.perf_counter() - t)
        for k in shares:
            best = set(rows[np.argsort(-scores, kind="stable")[:k]].tolist())
            mine = set(got[np.argsort(-got_scores, kind="stable")[:k]].tolist())
            shares[k].append(len(best & mine) / max(len(best), 1))
    return {"bm25_top10_overlap": float(np.mean(shares[10])), "bm25_top100_overlap": float(np.mean(shares[100])),
            "bm25_top_p50_ms": 1000 * float(np.median(fast)), "bm25_exhaustive_p50_ms": 1000 * float(np.median(full))}


def verdicts(results: dict) -> list[tuple[str, str, bool]]:
    """(target, figures, met) for issue 9's storage targets (stated for 1M passages)."""
    out = []
    for key in sorted(k for k in results if k.startswith("storage")):
        s = results[key]
        at = f"at {s['passages']:,}"
        out.append((f"9 cold ask <= 0.8 s, <= 600 MiB ({at})", f"{s['cold_ask_s']:.2f} s, {s['cold_ask_peak_rss_mib']:.0f} MiB",
                    s["cold_ask_s"] <= 0.8 and s["cold_ask_peak_rss_mib"] <= 600))
        out.append((f"9 warm p50 <= 8 ms, p99 <= 20 ms ({at})", f"{s['warm_p50_ms']:.1f} / {s['warm_p99_ms']:.1f} ms",
                    s["warm_p50_ms"] <= 8 and s["warm_p99_ms"] <= 20))
        out.append((f"9 one-paragraph edit <= 10 s, <= 2 GiB ({at})", f"{s['edit_s']:.1f} s, {s['edit_peak_rss_mib']:.0f} MiB",
                    s["edit_s"] <= 10 and s["edit_peak_rss_mib"] <= 2048))
        out.append((f"9 build peak RSS <= 4 GiB ({at})", f"{s['build_peak_rss_mib']:.0f} MiB", s["build_peak_rss_mib"] <= 4096))
        out.append((f"9 no-change staleness check <= 0.15 s ({s['staleness_files']:,} files)", f"{s['staleness_check_s']:.3f} s",
                    s["staleness_check_s"] <= 0.15))
    return out


def retime(root: Path) -> dict:
    """The query-side figures (cold ask, warm queries, BM25 overlap, staleness) on a kept DIR, no rebuild."""
    from qa_bot import engine
    from qa_bot import index as index_mod
    from qa_bot.config import Settings
    from qa_bot.search import Retriever

    docs, index = root / "docs", root / "index"
    stored = index_mod.load(index)
    questions = [" ".join(p.text.split()[3:12]) + "?" for p in stored.passages[:200]]
    out: dict = {"passages": len(stored)}
    out.update(cold_asks(docs, index, questions))
    retriever = Retriever(stored, engine.query_encoder(stored, Settings(docs=docs, index=index)))
    retriever.lexical
    lat = warm_latencies(retriever, questions)
    out.update(warm_p50_ms=float(np.percentile(lat, 50)), warm_p99_ms=float(np.percentile(lat, 99)))
    out.update(bm25_overlap(retriever.lexical, questions))
    stale = []
    for _ in range(5):
        t = time.perf_counter()
        assert not index_mod.is_stale(stored, docs)
        stale.append(time.perf_counter() - t)
    out["staleness_check_s"] = statistics.median(stale)
    return out


if __name__ == "__main__":
    for key, value in retime(Path(sys.argv[1])).items():
        print(f"  {key:28s} {value:.4g}" if isinstance(value, float) else f"  {key:28s} {value}")
