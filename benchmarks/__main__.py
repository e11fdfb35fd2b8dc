"""qa-bot benchmark suite: prints every speed and memory figure of docs/performance.md.

    .venv/bin/python -m benchmarks [--quick] [--json FILE]

Real passages come from seeds/ and, when present, ../shared/bench/scifact (its cached index
under embeddings/beir-scifact is reused). The 100k-passage query benchmark tiles real SciFact
passage embeddings with small noise; the index-scale part uses real embeddings plus noise as
synthetic vectors (embedding a million paragraphs takes hours here). Ratios are measured in
the same run, interleaved, because these machines are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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
QUESTION = "Where did Kim Jong Un meet Putin in 2019?"
RESULTS: dict[str, dict] = {}


def record(section: str, **figures) -> None:
    RESULTS.setdefault(section, {}).update(figures)
    for key, value in figures.items():
        shown = f"{value:.4g}" if isinstance(value, float) else value
        print(f"  {section:<14} {key:<42} {shown}", flush=True)


def pct(values, q) -> float:
    return float(np.percentile(np.asarray(values), q))


def timed(cmd, env=None) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one fresh process."""
    wrapper = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
               "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
               "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([PY, "-c", wrapper, *cmd], capture_output=True, text=True, env=env).stdout.split()
    return float(out[0]), int(out[1])


# --------------------------------------------------------------------------- 1, 2, 6: cold start


def bench_cold(runs: int) -> None:
    print("cold start (seeds index built; medians of interleaved runs)")
    env = dict(os.environ)
    subprocess.run([*QA, "index", "-q"], check=True, env=env)
    model = ROOT / "embeddings"
    from qa_bot.embed import bundled_model_dir

    commands = {
        "ask": [*QA, "ask", QUESTION],
        "import_st": [PY, "-c", "import sentence_transformers"],
        "st_model": [PY, "-c", f"from sentence_transformers import SentenceTransformer; SentenceTransformer({str(bundled_model_dir())!r}, device='cpu')"],
        "help": [*QA, "--help"],
        "error_empty_question": [*QA, "ask", ""],
        "error_missing_docs": [*QA, "ask", "--docs", "/nonexistent", "--index", "/tmp/qa-bot-none", "hi"],
    }
    times = {k: [] for k in commands}
    rss = {k: [] for k in commands}
    for _ in range(runs):
        for key, cmd in commands.items():
            t, m = timed(cmd, env)
            times[key].append(t)
            rss[key].append(m)
    med = {k: statistics.median(v) for k, v in times.items()}
    record("cold", ask_s=med["ask"], import_sentence_transformers_s=med["import_st"],
           ask_over_import_ratio=med["ask"] / med["import_st"], help_s=med["help"],
           error_empty_question_s=med["error_empty_question"], error_missing_docs_s=med["error_missing_docs"],
           ask_peak_rss_mib=statistics.median(rss["ask"]) / 1024,
           st_model_peak_rss_mib=statistics.median(rss["st_model"]) / 1024,
           rss_ratio=statistics.median(rss["ask"]) / statistics.median(rss["st_model"]))
    assert model.exists()


# --------------------------------------------------------------------------- 3: indexing throughput


def scifact_index() -> Path | None:
    """The SciFact index `qa-bot eval --beir` caches (any backend), if one was built."""
    for name in ("beir-scifact-onnx-int8", "beir-scifact", "beir-scifact-onnx"):
        if (ROOT / "embeddings" / name / "store.sqlite").exists():
            return ROOT / "embeddings" / name
    return None


def benchmark_questions(n: int) -> list[str]:
    """The first n SciFact claims; without ../shared, the seeds questions over and over, said in one line
    (memos then answer the repeats, so the figure is not comparable with the SciFact one)."""
    if (SCIFACT / "queries.jsonl").exists():
        return [json.loads(line)["text"] for line in open(SCIFACT / "queries.jsonl")][:n]
    from qa_bot import evaluate

    seeds = [q.question for q in evaluate.load_questions(evaluate.DEFAULT_QUESTIONS)]
    print(f"  (no {SCIFACT}: {n} questions cycled from the {len(seeds)} seeds questions; not comparable)")
    return [seeds[i % len(seeds)] for i in range(n)]


def scifact_passages(n: int) -> list[str]:
    from qa_bot import index as index_mod

    cached = index_mod.load(scifact_index()) if scifact_index() else None
    if cached is not None:
        return [p.text for p in cached.passages[:n]]
    if (SCIFACT / "corpus.jsonl").exists():
        with open(SCIFACT / "corpus.jsonl") as fh:
            return [json.loads(line)["text"][:1500] for _, line in zip(range(n), fh)]
    from qa_bot.documents import read_folder, split_document

    texts = [p.text for d in read_folder(ROOT / "seeds") for p in split_document(d)]
    return (texts * (n // len(texts) + 1))[:n]


def bench_encode(n: int, rounds: int) -> None:
    print(f"indexing throughput ({n} SciFact passages, interleaved rounds)")
    from qa_bot.embed import Encoder, OnnxEncoder, usable_cores
    from qa_bot.export import export_onnx

    texts = scifact_passages(n)
    torch_enc = Encoder()
    st = torch_enc.model
    workers = usable_cores()
    tmp = Path(tempfile.mkdtemp())
    try:
        fp32 = export_onnx(torch_enc.path, tmp / "fp32")
        int8 = export_onnx(torch_enc.path, tmp / "int8", quantize=True)
        # the baselines are sentence-transformers' own encode (it sorts by length) at its default
        # batch of 32 and at the batches that are faster on this CPU; ours run as `qa-bot index` does
        onnx = {
            "onnx": OnnxEncoder("m", tmp / fp32["file"].replace("onnx/", "fp32/"), tmp / "fp32" / "tokenizer.json", workers=workers),
            "onnx-int8": OnnxEncoder("m", tmp / int8["file"].replace("onnx/", "int8/"), tmp / "int8" / "tokenizer.json", workers=workers),
            # the batch of 8 used before round 5 (one text a run is exact with int8, and faster)
            "onnx-int8-b8": OnnxEncoder("m", tmp / int8["file"].replace("onnx/", "int8/"), tmp / "int8" / "tokenizer.json",
                                        workers=workers, batch_size=8),
        }
        runs = {f"torch-b{b}": (lambda b: lambda: st.encode(texts, batch_size=b, normalize_embeddings=True))(b) for b in (32, 16, 8)}
        runs.update({key: (lambda enc: lambda: enc.encode(texts))(enc) for key, enc in onnx.items()})
        rates = {k: [] for k in runs}
        vectors = {}
        for _ in range(rounds):
            for key, run in runs.items():
                t = time.perf_counter()
                vectors[key] = run()
                rates[key].append(len(texts) / (time.perf_counter() - t))
        med = {k: statistics.median(v) for k, v in rates.items()}
        best_torch = max(med["torch-b32"], med["torch-b16"], med["torch-b8"])
        cos8 = (vectors["onnx-int8"] * vectors["torch-b32"]).sum(1)
        cos32 = (vectors["onnx"] * vectors["torch-b32"]).sum(1)
        record("encode", torch_batch32_per_s=med["torch-b32"], torch_batch16_per_s=med["torch-b16"],
               torch_batch8_per_s=med["torch-b8"], onnx_fp32_per_s=med["onnx"], onnx_int8_per_s=med["onnx-int8"],
               onnx_int8_batch8_per_s=med["onnx-int8-b8"],
               onnx_int8_batch8_max_abs_diff=float(np.abs(vectors["onnx-int8-b8"] - vectors["onnx-int8"]).max()),
               onnx_int8_ratio_vs_st_default_batch=med["onnx-int8"] / med["torch-b32"],
               onnx_int8_ratio_vs_best_torch_batch=med["onnx-int8"] / best_torch,
               onnx_fp32_ratio_vs_best_torch_batch=med["onnx"] / best_torch,
               onnx_fp32_min_cosine=float(cos32.min()), onnx_int8_min_cosine=float(cos8.min()),
               onnx_int8_mean_cosine=float(cos8.mean()))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- 4: warm query latency at scale


def synthetic_index(n: int, tmp: Path):
    """n passages: real SciFact (or seeds) passages tiled, their embeddings plus small noise."""
    from qa_bot import index as index_mod
    from qa_bot.documents import Passage, passage_id

    base = index_mod.load(scifact_index()) if scifact_index() else None
    if base is None:
        base = index_mod.load(ROOT / "embeddings")
    vecs = base.all_vectors()
    rng = np.random.default_rng(1)
    originals = list(base.passages)
    passages, vectors = [], {}
    for i in range(n):
        p = originals[i % len(originals)]
        text = p.text if i < len(originals) else f"{p.text} (copy {i // len(originals)})"
        passages.append(Passage(passage_id(f"{p.source}#{i}", text), f"{p.source}#{i}", 1, 1, 1, text, p.title, None))
        v = vecs[i % len(originals)]
        if i >= len(originals):
            v = v + rng.normal(0, 0.02, v.shape).astype(np.float32)
        vectors[text] = v / np.linalg.norm(v)

    class Tiled:
        """Stored vectors for passage texts; a noisy copy of a random one for sentences (benchmark only)."""

        name, dimension, max_tokens, texts_encoded = base.model, base.dimension, 254, 0

        def count_tokens(self, text):
            return len(text.split())

        def encode(self, texts, progress=False, desc=""):
            out = [vectors.get(t) for t in texts]
            return np.stack([v if v is not None else vecs[rng.integers(len(vecs))] for v in out]).astype(np.float32)

    t = time.perf_counter()
    unit = index_mod.FileChange("synthetic", 0, 0, str(n), passages)
    meta = {k: base.info[k] for k in ("backend", "onnx") if k in base.info}  # not its parts, segments or vectors
    stored = index_mod.update_units(tmp, ROOT / "seeds", Tiled(), [unit], meta=meta)
    return stored, time.perf_counter() - t


def bench_warm(n: int) -> None:
    print(f"warm query latency, hybrid, {n:,} passages (SciFact test questions)")
    from qa_bot import engine, index as index_mod
    from qa_bot.config import Settings
    from qa_bot.search import Retriever

    tmp = Path(tempfile.mkdtemp())
    try:
        stored, build_s = synthetic_index(n, tmp / "idx")
        t = time.perf_counter()
        loaded = index_mod.load(tmp / "idx")
        load_s = time.perf_counter() - t
        seeds = index_mod.load(ROOT / "embeddings")
        encoder = engine.query_encoder(seeds, Settings())
        retriever = Retriever(loaded, encoder, mode="hybrid")
        queries = benchmark_questions(300)
        lat = warm_latencies(retriever, queries)
        record("warm", passages=n, p50_ms=pct(lat, 50), p99_ms=pct(lat, 99), index_write_s=build_s, index_load_s=load_s,
               vector_index=loaded.info["vector_kind"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- 5: vector index at scale


def bench_scale(sizes: list[int]) -> None:
    print("vector index choice (real embeddings + noise; queries are perturbed real embeddings)")
    import faiss

    from qa_bot import index as index_mod

    faiss.omp_set_num_threads(1)
    base_path = scifact_index()
    base = index_mod.load(base_path or ROOT / "embeddings")
    real = base.all_vectors()
    rng = np.random.default_rng(7)
    for n in sizes:
        reps = n // len(real) + 1
        parts = [real] + [real + rng.normal(0, 0.03, real.shape).astype(np.float32) for _ in range(reps - 1)]
        data = np.concatenate(parts)[:n]
        data /= np.linalg.norm(data, axis=1, keepdims=True)
        queries = real[rng.choice(len(real), 200)] + rng.normal(0, 0.03, (200, real.shape[1])).astype(np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        exact = faiss.IndexFlatIP(data.shape[1])
        exact.add(data)
        t = time.perf_counter()
        _, truth = exact.search(queries, 10)
        flat_ms = (time.perf_counter() - t) / len(queries) * 1000
        kinds = ["flat", "ivf", "hnsw"] if n <= 200_000 else ["flat", "ivf"]
        for kind in kinds:
            if kind == "flat":
                index, build_s = exact, 0.0
            else:
                faiss.omp_set_num_threads(os.cpu_count() or 1)
                t = time.perf_counter()
                index = index_mod.build_vector_index(data, kind)
                build_s = time.perf_counter() - t
                faiss.omp_set_num_threads(1)
            lat = []
            found = []
            for q in queries:
                t = time.perf_counter()
                _, ids = index.search(q[None, :], 10)
                lat.append((time.perf_counter() - t) * 1000)
                found.append(ids[0])
            recall = float(np.mean([len(set(f) & set(g)) / 10 for f, g in zip(found, truth)]))
            size = len(faiss.serialize_index(index))
            record(f"scale {n // 1000}k", **{f"{kind}_recall@10": recall, f"{kind}_p50_ms": pct(lat, 50),
                                            f"{kind}_build_s": build_s, f"{kind}_bytes_per_vector": size / n})
        record(f"scale {n // 1000}k", chosen=index_mod.vector_index_kind(n), flat_batch_ms_per_query=flat_ms)
        del exact, data


# --------------------------------------------------------------------------- 7: bot throughput


def bench_bot(chats: int) -> None:
    print(f"bot throughput ({chats} questions from {chats} chats at once, local fake Bot API)")
    sys.path.insert(0, str(ROOT / "tests"))
    from fake_telegram import FakeBotApi, message

    from qa_bot import engine
    from qa_bot.config import Settings
    from qa_bot.telegram import BotConfig, build_application

    token = "123456789:AAEhBP0av28jLkPLFhO5bRw9Qs3Yhkp2vXo"
    retriever = engine.open_retriever(Settings(), progress=False)
    questions = ["Where did Kim Jong Un meet Putin in 2019?", "Which country recognized the DPRK first?",
                 "When was the partnership treaty signed?", "What did the leaders agree on in Vladivostok?"]

    async def run() -> list[float]:
        with FakeBotApi(token) as api:
            app = build_application(token, retriever, BotConfig(rate_limit=1000), base_url=api.base_url, poll_read=2.0)
            await app.initialize()
            await app.start()
            await app.updater.start_polling(poll_interval=0.0, timeout=1)
            try:
                start = time.monotonic()
                for chat in range(chats):
                    api.push(message(questions[chat % len(questions)], chat_id=10_000 + chat))
                deadline = start + 60
                while time.monotonic() < deadline and len({c.params["chat_id"] for c in api.sent()}) < chats:
                    await asyncio.sleep(0.01)
                first = {}
                for c in api.sent():
                    first.setdefault(c.params["chat_id"], c.at - start)
                return list(first.values())
            finally:
                await app.updater.stop()
                await app.stop()
                await app.shutdown()

    times = asyncio.run(run())
    record("bot", chats=chats, answered=len(times), p50_s=pct(times, 50), p99_s=pct(times, 99), max_s=max(times))


# --------------------------------------------------------------------------- 8: side by side with txtai

TXTAI_BUILD = """
import sys, time, json
t = time.perf_counter()
from txtai import Embeddings
texts = [open(p, encoding="utf-8").read().strip() for p in sys.argv[3:]]
emb = Embeddings(path=sys.argv[1], content=True, backend="faiss", faiss={"nprobe": 1})
emb.index([(i, t, None) for i, t in enumerate(texts)])
emb.save(sys.argv[2])
print(time.perf_counter() - t)
"""
TXTAI_QUERY = """
import sys, time
from txtai import Embeddings
import faiss; faiss.omp_set_num_threads(1)
emb = Embeddings(); emb.load(sys.argv[1])
print(emb.search(sys.argv[2], 3)[0]["text"][:60])
"""


def bench_txtai(n: int, runs: int) -> None:
    import importlib.util

    if importlib.util.find_spec("txtai") is None:
        print("txtai side by side: skipped (pip install txtai into .venv to run it)")
        return
    print(f"side by side with txtai ({n} SciFact passages, same model, FAISS on 1 thread at query time)")
    from qa_bot import engine
    from qa_bot.config import Settings
    from qa_bot.embed import bundled_model_dir

    texts = scifact_passages(n)
    tmp = Path(tempfile.mkdtemp())
    try:
        docs = tmp / "docs"
        docs.mkdir()
        files = []
        for i, text in enumerate(texts):
            f = docs / f"p{i:05d}.txt"
            f.write_text(text + "\n", encoding="utf-8")
            files.append(str(f))
        model = str(bundled_model_dir())
        queries = benchmark_questions(100)
        # build: from process start, each its own process
        # The first index of a model exports it to ONNX (needs torch); later ones take the export
        # from the per-user cache. A private cache dir makes the first build a true first build.
        env = dict(os.environ, XDG_CACHE_HOME=str(tmp / "cache"))
        first_build, _ = timed([*QA, "index", "-q", "--docs", str(docs), "--index", str(tmp / "first")], env)
        ours_build, _ = timed([*QA, "index", "-q", "--docs", str(docs), "--index", str(tmp / "ours")], env)
        theirs_build, _ = timed([PY, "-c", TXTAI_BUILD, model, str(tmp / "txtai"), *files])
        cold = {"ours": [], "txtai": []}
        rss = {"ours": [], "txtai": []}
        for _ in range(runs):
            t, m = timed([*QA, "ask", "--docs", str(docs), "--index", str(tmp / "ours"), queries[0]])
            cold["ours"].append(t)
            rss["ours"].append(m)
            t, m = timed([PY, "-c", TXTAI_QUERY, str(tmp / "txtai"), queries[0]])
            cold["txtai"].append(t)
            rss["txtai"].append(m)
        retriever = engine.open_retriever(Settings(docs=docs, index=tmp / "ours"), progress=False)
        from txtai import Embeddings
        import faiss

        emb = Embeddings()
        emb.load(str(tmp / "txtai"))
        faiss.omp_set_num_threads(1)
        warm = {"ours": [], "txtai": []}
        for q in queries[:5]:
            retriever.ask(q)
            emb.search(q, 3)
        for q in queries:
            t = time.perf_counter()
            retriever.ask(q, k=3)
            warm["ours"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            emb.search(q, 3)
            warm["txtai"].append((time.perf_counter() - t) * 1000)
        med = {k: statistics.median(v) for k, v in cold.items()}
        record("txtai", passages=n, ours_first_build_s=first_build, ours_build_s=ours_build, txtai_build_s=theirs_build,
               ours_cold_query_s=med["ours"], txtai_cold_query_s=med["txtai"],
               ours_warm_p50_ms=pct(warm["ours"], 50), txtai_warm_p50_ms=pct(warm["txtai"], 50),
               ours_cold_peak_rss_mib=statistics.median(rss["ours"]) / 1024,
               txtai_cold_peak_rss_mib=statistics.median(rss["txtai"]) / 1024,
               first_build_speedup=theirs_build / first_build, build_speedup=theirs_build / ours_build, cold_speedup=med["txtai"] / med["ours"],
               warm_speedup=pct(warm["txtai"], 50) / pct(warm["ours"], 50),
               memory_ratio=statistics.median(rss["ours"]) / statistics.median(rss["txtai"]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- verdicts


def verdicts() -> list[tuple[str, str, bool]]:
    """(target, figures, met) for every target of issue 5 whose section ran."""
    r = RESULTS
    out = []
    if "cold" in r:
        c = r["cold"]
        out.append(("1 cold ask <= 0.6 s and <= 0.15 x import sentence_transformers",
                    f"{c['ask_s']:.2f} s, {c['ask_over_import_ratio']:.3f} x", c["ask_s"] <= 0.6 and c["ask_over_import_ratio"] <= 0.15))
        slowest = max(c["help_s"], c["error_empty_question_s"], c["error_missing_docs_s"])
        out.append(("2 --help and error paths <= 0.3 s", f"slowest {slowest:.2f} s", slowest <= 0.3))
        out.append(("6 cold ask peak RSS <= 0.5 x sentence-transformers", f"{c['rss_ratio']:.2f} x", c["rss_ratio"] <= 0.5))
    if "encode" in r:
        e = r["encode"]
        # the target compares with sentence-transformers' encode as called (its default batch, 32,
        # as the issue measured it); the ratio to torch at a hand-tuned batch is shown beside it
        out.append(("3 indexing >= 2.5 x sentence-transformers' torch encode",
                    f"{e['onnx_int8_ratio_vs_st_default_batch']:.2f} x (vs torch at its best batch here: "
                    f"{e['onnx_int8_ratio_vs_best_torch_batch']:.2f} x)",
                    e["onnx_int8_ratio_vs_st_default_batch"] >= 2.5))
    if "warm" in r:
        w = r["warm"]
        out.append((f"4 warm p50 <= 10 ms, p99 <= 25 ms at {w['passages']:,} passages", f"{w['p50_ms']:.1f} / {w['p99_ms']:.1f} ms",
                    w["p50_ms"] <= 10 and w["p99_ms"] <= 25 and w["passages"] >= 100_000))
    from benchmarks.scale import verdicts as storage_verdicts

    out += storage_verdicts(r)
    for key in sorted(k for k in r if k.startswith("scale")):
        s = r[key]
        recall = s[f"{s['chosen']}_recall@10"]
        out.append((f"5 recall@10 >= 0.98 at {key[6:]} ({s['chosen']})", f"{recall:.3f}", recall >= 0.98))
    if "bot" in r:
        b = r["bot"]
        out.append((f"7 {b['chats']} chats at once: all answered, p99 <= 2 s", f"{b['answered']}/{b['chats']}, p99 {b['p99_s']:.2f} s",
                    b["answered"] == b["chats"] and b["p99_s"] <= 2))
    if "txtai" in r:
        t = r["txtai"]
        wins = [t["first_build_speedup"], t["build_speedup"], t["cold_speedup"], t["warm_speedup"], 1 / t["memory_ratio"]]
        out.append((f"8 beats txtai on every figure ({t['passages']} passages)",
                    "first build {:.2f} x, build {:.2f} x, cold {:.1f} x, warm {:.1f} x, memory {:.2f} x".format(*wins[:4], t["memory_ratio"]),
                    min(wins) > 1))
    return out


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks")
    ap.add_argument("--quick", action="store_true", help="smaller sizes, no 1M index")
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results.json"), help="where to write the figures")
    ap.add_argument("--only", nargs="*", help="sections: cold encode warm vectors scale bot txtai")
    ap.add_argument("--passages", type=int, default=None, help="passages for the storage scale section (default 100,000)")
    ap.add_argument("--keep", metavar="DIR", help="keep the scale section's docs and index in DIR/docs and DIR/index")
    ap.add_argument("--txtai-passages", type=int, default=None, help="passages for the txtai comparison (default 500)")
    args = ap.parse_args()
    os.chdir(ROOT)
    # qa_bot's byte-code, as a regular pip install (and scripts/setup.sh) leaves it: cold starts
    # measure the product, not compiling its sources after an edit
    subprocess.run([PY, "-m", "compileall", "-q", "qa_bot"], check=False, capture_output=True)
    only = set(args.only or ["cold", "encode", "warm", "vectors", "scale", "bot", "txtai"])
    started = time.perf_counter()
    if "cold" in only:
        bench_cold(runs=3 if args.quick else 7)
    if "encode" in only:
        bench_encode(n=96 if args.quick else 256, rounds=2 if args.quick else 3)
    if "warm" in only:
        bench_warm(20_000 if args.quick else 100_000)
    if "vectors" in only:
        bench_scale([100_000] if args.quick else [100_000, 1_000_000])
    if "scale" in only:
        from benchmarks.scale import bench_storage

        bench_storage(args.passages or (20_000 if args.quick else 100_000), args.keep, record)
    if "bot" in only:
        bench_bot(50)
    if "txtai" in only:
        bench_txtai(args.txtai_passages or (200 if args.quick else 500), runs=3 if args.quick else 5)
    table = verdicts()
    if table:
        print("targets")
        for target, figures, met in table:
            print(f"  {'met    ' if met else 'NOT MET'}  {target:<62} {figures}")
        RESULTS["targets"] = [{"target": t, "figures": f, "met": m} for t, f, m in table]
    RESULTS["run"] = {"seconds": time.perf_counter() - started, "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d")}
    Path(args.json).write_text(json.dumps(RESULTS, indent=1))
    print(f"wrote {args.json} ({RESULTS['run']['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
