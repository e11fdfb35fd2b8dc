"""Lexical store comparison: SQLite FTS5 (pre-stemmed tokens) against qa-bot's BM25 segments.

    python -m benchmarks.lexical_choice DIR/index   (an index kept by `python -m benchmarks --only scale --keep DIR`)
"""
import sqlite3, sys, tempfile, time, numpy as np
from pathlib import Path
from qa_bot import index as im
from qa_bot.lexical import Analyzer, passage_text
s = im.load(Path(sys.argv[1]))
an = Analyzer(frozenset(s.info["lexical"]["stopwords"]))
db = sqlite3.connect(Path(tempfile.mkdtemp()) / 'fts.sqlite'); db.execute("DROP TABLE IF EXISTS f"); db.execute("CREATE VIRTUAL TABLE f USING fts5(body, tokenize='ascii')")
t = time.perf_counter()
batch = []
for i, p in enumerate(s.passages):
    batch.append((i, " ".join(an.terms(passage_text(p)))))
    if len(batch) == 5000:
        db.executemany("INSERT INTO f(rowid, body) VALUES (?, ?)", batch); batch = []
db.executemany("INSERT INTO f(rowid, body) VALUES (?, ?)", batch); db.commit()
print(f"FTS5 build (tokens already stemmed) {time.perf_counter() - t:.1f} s")
qs = [" ".join(p.text.split()[3:12]) + "?" for p in s.passages[:200]]
lat = []
for q in qs:
    terms = list(dict.fromkeys(an.terms(q)))
    t = time.perf_counter()
    db.execute("SELECT rowid, bm25(f) FROM f WHERE f MATCH ? ORDER BY rank LIMIT 100", (" OR ".join(f'"{w}"' for w in terms),)).fetchall()
    lat.append(time.perf_counter() - t)
print(f"FTS5 top-100 p50 {np.percentile(lat, 50) * 1000:.1f} ms, p99 {np.percentile(lat, 99) * 1000:.1f} ms")
lat = []
for q in qs:
    t = time.perf_counter(); rows, sc = s.lexical.sparse(q); top = np.argpartition(-sc, 100)[:100] if len(sc) > 100 else None; lat.append(time.perf_counter() - t)
print(f"segments top-100 p50 {np.percentile(lat, 50) * 1000:.1f} ms, p99 {np.percentile(lat, 99) * 1000:.1f} ms")
lat = []
for q in qs:
    t = time.perf_counter(); full = s.lexical.scores(q); np.argpartition(-full, 100)[:100]; lat.append(time.perf_counter() - t)
print(f"dense N-score array + argpartition (the old query path) p50 {np.percentile(lat, 50) * 1000:.1f} ms")
t = time.perf_counter()
db.execute("INSERT INTO f(rowid, body) VALUES (?, ?)", (10**7, "harbour master timetabl approv")); db.commit()
print(f"FTS5 one-row insert {1000 * (time.perf_counter() - t):.1f} ms")
