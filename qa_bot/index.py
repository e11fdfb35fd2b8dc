"""The index on disk: passages in SQLite, vectors and BM25 arrays in immutable generations.

One folder holds `store.sqlite` (passages, file state and the list of generations, WAL mode),
`generations/<N>/` (FAISS vectors, sentence vectors, BM25 arrays: written once, never
changed) and `write.lock`. A writer holds the lock, writes a new generation under a temporary
name, and publishes it in one SQLite transaction: readers never wait and never see half an
index, and a writer killed at any point leaves the last generation usable. Passages keep a
stable id across generations, so an update inserts and retires only the rows that changed.
"""

from __future__ import annotations

import array
import contextlib
import dataclasses
import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
import signal
import struct
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from .documents import Passage, split_document, split_sentences
from .documents.fingerprint import SPLIT_FILES, UNKNOWN, quick_digest, stats_digest
from .errors import QaBotError

log = logging.getLogger(__name__)

FORMAT = 2
DB = "store.sqlite"
LOCK = "write.lock"
GENERATIONS = "generations"
SEGMENTS = "lexical"  # BM25 segments, shared by the generations that list them
SENTENCES = "sentences"  # sentence vectors, appended to by later generations
VECTORS = "vectors"  # FAISS files: a large base and a small delta of vectors added since, shared by generations
DELTA_SHARE = 0.1  # the base is rewritten once the delta or the removed vectors exceed this share of it
DELTA_MAX = 20_000  # ... or the delta this many vectors (it is searched exactly: about 1 ms per 20,000)
MAX_SEGMENTS = 8
READER_LOCK = "readers.lock"
OLD_MANIFEST = "manifest.json"  # format 1: one JSON snapshot (rebuilt automatically)
SPLITTER_VERSION = 17  # 5: a displayed formula in HTML ends the paragraph it completes; 6-8: compound terms (ctrl-r, 800-207, #35, ©); 9-10: publisher lines; 11: a salutation opens the first paragraph; 12: a heading after it names the section; 13: a web page's "last edited on" line; 14: each HTML list its own passage (lists were merged); 15-16: a PDF paragraph over a page break is one passage; 17: a title with a byline is a header passage, a PDF table row keeps a version cut at a line end and its last cell
BATCH_PASSAGES = 2048  # passages embedded and stored per batch while building
IVF_DRIFT = 2.0  # retrain IVF centroids once the corpus has grown or shrunk by this factor

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS generations(gen INTEGER PRIMARY KEY, info TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS passages(
    pid INTEGER PRIMARY KEY, gen_from INTEGER NOT NULL, gen_to INTEGER,
    source TEXT NOT NULL, tkey TEXT NOT NULL, pkey TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS passages_source ON passages(source);
CREATE INDEX IF NOT EXISTS passages_pkey ON passages(pkey);
CREATE INDEX IF NOT EXISTS passages_tkey ON passages(tkey);
CREATE TABLE IF NOT EXISTS terms(term TEXT PRIMARY KEY, tid INTEGER NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS files(
    source TEXT NOT NULL, gen_from INTEGER NOT NULL, gen_to INTEGER,
    size INTEGER, mtime_ns INTEGER, sha256 TEXT, passages INTEGER NOT NULL DEFAULT 0, skipped TEXT,
    PRIMARY KEY(source, gen_from));
"""
VISIBLE = "gen_from <= :g AND (gen_to IS NULL OR gen_to > :g)"


class TextEncoder(Protocol):
    name: str
    dimension: int
    max_tokens: int
    texts_encoded: int

    def count_tokens(self, text: str) -> int: ...

    def encode(self, texts: list[str], progress: bool = False, desc: str = "embedding") -> np.ndarray: ...


def embedding_text(p: Passage) -> str:
    """The string the model sees for a passage."""
    return p.text


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def hint(path: Path, docs: Path | str | None = None) -> str:
    """The command that rebuilds an index, naming both folders."""
    return f"qa-bot index --docs {docs or 'DOCS'} --index {path}"


def _corrupt(path: Path, what: str, docs=None) -> QaBotError:
    return QaBotError(f"index at {path} is unreadable ({what}); rebuild it with: {hint(path, docs)} --rebuild")


class OldFormat(QaBotError):
    """An index written by qa-bot's first storage format (one manifest.json)."""


def _kill_point(step: str) -> None:
    """Test hook: QA_BOT_TEST_KILL_AT=<step> makes a writer SIGKILL itself at that step."""
    if os.environ.get("QA_BOT_TEST_KILL_AT") == step:
        os.kill(os.getpid(), signal.SIGKILL)


# --------------------------------------------------------------------------- passages, lazily


def passage_from_json(text: str) -> Passage:
    """A Passage from its stored JSON (fields unknown to this version are dropped)."""
    data = json.loads(text)
    names = {f.name for f in dataclasses.fields(Passage)}
    return Passage(**{k: v for k, v in data.items() if k in names})


def passage_to_json(p: Passage) -> str:
    return json.dumps(dataclasses.asdict(p), ensure_ascii=False)


class Store:
    """The SQLite database of an index folder: one connection, safe to share between threads."""

    def __init__(self, path: Path, create: bool = False, docs=None):
        self.path, self.docs = path, docs  # docs: named in the rebuild hint of an error
        self.file = path / DB
        self._lock = threading.RLock()
        try:
            self.conn = sqlite3.connect(self.file, timeout=30, check_same_thread=False, isolation_level=None)
            if create:
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.executescript(SCHEMA)
            self.conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise _corrupt(path, f"{DB}: {exc}", docs) from None

    def query(self, sql: str, params=()) -> list[tuple]:
        with self._lock:
            try:
                return self.conn.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                raise _corrupt(self.path, f"{DB}: {exc}", self.docs) from None

    def current(self) -> tuple[int, dict] | None:
        """(generation, its record) that readers should open, or None when nothing is published."""
        rows = self.query("SELECT g.gen, g.info FROM meta m JOIN generations g ON g.gen = CAST(m.value AS INTEGER) "
                          "WHERE m.key = 'current'")
        if not rows:
            return None
        try:
            return int(rows[0][0]), json.loads(rows[0][1])
        except ValueError:
            raise _corrupt(self.path, f"{DB}: generation record", self.docs) from None

    def current_generation(self) -> int | None:
        rows = self.query("SELECT value FROM meta WHERE key = 'current'")
        return int(rows[0][0]) if rows else None

    def info(self, gen: int) -> dict | None:
        rows = self.query("SELECT info FROM generations WHERE gen = ?", (gen,))
        return json.loads(rows[0][0]) if rows else None

    def files(self, gen: int) -> dict[str, dict]:
        rows = self.query(f"SELECT source, size, mtime_ns, sha256, passages, skipped FROM files WHERE {VISIBLE}", {"g": gen})
        return {r[0]: {"size": r[1], "mtime_ns": r[2], "sha256": r[3], "passages": r[4], "skipped": r[5]} for r in rows}

    def term_ids(self, terms: list[str]) -> dict[str, int]:
        """Term -> id for the terms the index knows (a few rows, by primary key)."""
        out: dict[str, int] = {}
        terms = list(terms)
        for start in range(0, len(terms), 500):
            chunk = terms[start : start + 500]
            out.update(self.query(f"SELECT term, tid FROM terms WHERE term IN ({','.join('?' * len(chunk))})", chunk))
        return out

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


class PassageTable(Sequence):
    """`passages[row]` for the rows of one generation, read from SQLite on demand (a small cache)."""

    CACHE = 4096  # passages kept between calls

    def __init__(self, store: Store, gen: int, pids: np.ndarray):
        self.store, self.gen, self.pids = store, gen, pids
        self._cache: dict[int, Passage] = {}

    def __len__(self) -> int:
        return len(self.pids)

    def __getitem__(self, row):
        if isinstance(row, slice):
            return self.many(range(*row.indices(len(self))))
        row = int(row)
        if row < 0:
            row += len(self)
        if not 0 <= row < len(self):
            raise IndexError(row)
        return self.many([row])[0]

    def many(self, rows) -> list[Passage]:
        """Passages for rows, in that order, in one query.

        Safe from the bot's threads: the cache is only ever added to or swapped for a new dict,
        and each call answers from its own copy of what it found."""
        pids = [int(self.pids[int(r)]) for r in rows]
        cache = self._cache
        found = {pid: cache[pid] for pid in set(pids) if pid in cache}
        missing = sorted(set(pids) - set(found))
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for pid, data in self.store.query(f"SELECT pid, data FROM passages WHERE pid IN ({marks})", chunk):
                found[int(pid)] = passage_from_json(data)
        if len(cache) + len(missing) > self.CACHE:
            self._cache = dict(found)
        else:
            cache.update(found)
        try:
            return [found[pid] for pid in pids]
        except KeyError:
            raise QaBotError(f"index at {self.store.path} changed while reading it; ask again") from None

    def __iter__(self) -> Iterator[Passage]:
        """Every passage in row order, streamed from SQLite."""
        last = -1
        while True:  # pages by id: no lock or cursor is held between yields (the bot reads from threads)
            rows = self.store.query(f"SELECT pid, data FROM passages WHERE {VISIBLE} AND pid > :last ORDER BY pid LIMIT 1000",
                                    {"g": self.gen, "last": last})
            if not rows:
                return
            for _, data in rows:
                yield passage_from_json(data)
            last = rows[-1][0]


# --------------------------------------------------------------------------- a loaded generation


@dataclass
class StoredIndex:
    """One published generation, opened lazily: passages in SQLite, vectors memory-mapped."""

    path: Path
    model: str
    dimension: int
    docs: str
    generation: int
    info: dict
    store: Store
    pids: np.ndarray  # passage id of each row, ascending
    vectors: object  # faiss index over passage ids
    sentence_vectors: "_RowReader | None"  # float16, one row per sentence, passages in row order (read by pread)
    sentence_counts: np.ndarray | None  # sentences per passage
    sentence_starts: np.ndarray | None = None  # row of each passage's first sentence in sentence_vectors
    lexical: object | None = None  # lexical.Lexical over the same rows
    passages: PassageTable = field(init=False)
    _offsets: np.ndarray | None = field(default=None, init=False, repr=False)
    _reader_fd: int | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        self.passages = PassageTable(self.store, self.generation, self.pids)

    @property
    def extra(self) -> dict:
        return {k: self.info.get(k) for k in ("splitter", "created", "backend", "onnx", "vector_kind")} | {
            "backend": self.info.get("backend", "torch")}

    @property
    def files(self) -> dict[str, dict]:
        return self.store.files(self.generation)

    def skipped(self) -> dict[str, str]:
        """Files of the docs folder left out of the index -> why (recorded at indexing), in path order."""
        rows = self.store.query(f"SELECT source, skipped FROM files WHERE {VISIBLE} AND skipped IS NOT NULL ORDER BY source",
                                {"g": self.generation})
        return {s: r for s, r in rows}

    @property
    def vector_file(self) -> str:
        """The base FAISS file, relative to the index folder."""
        return f"{VECTORS}/{self.info['vectors']['base']['file']}"

    def __len__(self) -> int:
        return len(self.pids)

    def __del__(self):
        if self._reader_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._reader_fd)

    def sentence_offsets(self) -> np.ndarray:
        """Row of each passage's first sentence in `sentence_vectors`."""
        return self.sentence_starts

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """Rows of the given passage ids (ids FAISS returned; -1 dropped)."""
        ids = np.asarray(ids, dtype=np.int64)
        ids = ids[ids >= 0]
        rows = np.searchsorted(self.pids, ids)
        ok = (rows < len(self.pids)) & (self.pids[np.minimum(rows, len(self.pids) - 1)] == ids) if len(self.pids) else rows < 0
        return rows[ok]

    def search(self, q: np.ndarray, k: int) -> np.ndarray:
        """Rows of the k nearest passages by inner product, best first."""
        if self.vectors.faiss:
            _one_search_thread()
        _, ids = self.vectors.search(np.asarray(q, dtype=np.float32)[None, :], min(k, len(self)))
        return self.rows(ids[0])[:k]  # removed passages (still in the base file) drop out

    def row_vectors(self, rows) -> np.ndarray:
        ids = self.pids[np.asarray(rows, dtype=np.int64)]
        if len(ids) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self.vectors.reconstruct_batch(np.ascontiguousarray(ids, dtype=np.int64))

    def all_vectors(self) -> np.ndarray:
        return self.row_vectors(np.arange(len(self)))

    def sources(self) -> dict[str, int]:
        """Document path -> number of paragraphs, in path order."""
        rows = self.store.query(
            f"SELECT source, COUNT(DISTINCT json_extract(data, '$.paragraph')) FROM passages WHERE {VISIBLE} "
            "GROUP BY source ORDER BY source", {"g": self.generation})
        return {s: int(n) for s, n in rows}

    def titles(self) -> dict[str, str]:
        """Document path -> its title, in path order (one SQL query, not a pass over every passage)."""
        rows = self.store.query(
            f"SELECT source, json_extract(data, '$.title'), MIN(pid) FROM passages WHERE {VISIBLE} GROUP BY source "
            "ORDER BY source", {"g": self.generation})  # SQLite: bare columns come from the MIN row
        return {s: t for s, t, _ in rows}

    def passages_of(self, source: str) -> list[Passage]:
        rows = self.store.query(f"SELECT data FROM passages WHERE source = :s AND {VISIBLE} ORDER BY pid",
                                {"s": source, "g": self.generation})
        return [passage_from_json(d) for (d,) in rows]  # a file's passages get ids in document order

    def rows_of(self, source: str, limit: int = -1) -> np.ndarray:
        """The rows of a document's passages, at most `limit` of them (ids from the source index, no passage read)."""
        ids = self.store.query(f"SELECT pid FROM passages WHERE source = :s AND {VISIBLE} LIMIT :n",
                               {"s": source, "g": self.generation, "n": limit})
        return self.rows(np.array([pid for (pid,) in ids], dtype=np.int64))

    def ends_of(self, source: str, first: int = 1, last: int = 5) -> list[Passage]:
        """A document's first and last few passages (its title page, its signature), in order, read
        through the source index in pid order: a few rows, however long the document."""
        head = self.store.query(f"SELECT pid, data FROM passages WHERE source = :s AND {VISIBLE} ORDER BY pid LIMIT :n",
                                {"s": source, "g": self.generation, "n": first})
        tail = self.store.query(f"SELECT pid, data FROM passages WHERE source = :s AND {VISIBLE} ORDER BY pid DESC LIMIT :n",
                                {"s": source, "g": self.generation, "n": last})
        rows = dict(head)
        rows.update(tail)
        return [passage_from_json(rows[pid]) for pid in sorted(rows)]

    def neighbours(self, passage: Passage, before: int = 1, after: int = 1) -> list[Passage]:
        """Passages around `passage` in its document, in order (for 'Context')."""
        same = self.passages_of(passage.source)
        i = next((j for j, p in enumerate(same) if p.id == passage.id), None)
        if i is None:
            return [passage]
        return same[max(0, i - before) : i + after + 1]

    def find(self, passage_id: str) -> Passage | None:
        """The passage with this id in this generation, or None."""
        rows = self.store.query(f"SELECT data FROM passages WHERE {VISIBLE} AND pkey = :id",
                                {"g": self.generation, "id": passage_id})
        return passage_from_json(rows[0][0]) if rows else None

    def newer(self) -> bool:
        """True when a newer generation than this one has been published (one small query)."""
        try:
            current = self.store.current_generation()
        except QaBotError:
            return False
        return current is not None and current != self.generation


@dataclass(frozen=True)
class UpdateReport:
    """What `update` did: counts of passages embedded, reused and dropped, files seen."""

    files: int
    passages: int
    embedded: int
    reused: int
    removed_files: list[str]
    changed_files: list[str]
    rebuilt: bool
    skipped_files: list[str] = field(default_factory=list)
    published: bool = True


# --------------------------------------------------------------------------- opening


def _all_parts(path: Path, gen: int, info: dict) -> dict[Path, dict]:
    """Every file a generation uses (its own parts and its BM25 segments' files), with size and hash."""
    folder = path / GENERATIONS / str(gen)
    out = {folder / name: part for name, part in (info.get("parts") or {}).items()}
    for seg in (info.get("lexical") or {}).get("segments", []):
        for name, part in seg.get("parts", {}).items():
            out[path / SEGMENTS / str(seg["id"]) / name] = part
    vectors = info.get("vectors") or {}
    for key in ("base", "delta"):
        if vectors.get(key):
            out[path / VECTORS / str(vectors[key]["file"])] = {"size": vectors[key]["size"], "sha256": vectors[key]["sha256"]}
    store = info.get("sentence_store")
    if store:  # shared and appended to: at least the rows this generation reads
        out[path / SENTENCES / str(store["file"])] = {"min_size": int(store["rows"]) * 2 * int(info["dimension"]),
                                                      "chunks": store["chunks"], "row_bytes": 2 * int(info["dimension"])}
    return out


def _parts(path: Path, gen: int, info: dict, docs=None) -> Path:
    """The generation's folder, with every part recorded in `info` present at its recorded size."""
    folder = path / GENERATIONS / str(gen)
    for file, part in _all_parts(path, gen, info).items():
        name = file.relative_to(path).as_posix()
        if ".." in Path(name).parts:
            raise _corrupt(path, f"part name {name!r}", docs)
        try:
            size = file.stat().st_size
        except OSError:
            raise _corrupt(path, f"{name} is missing", docs) from None
        expected = part.get("size", part.get("min_size"))
        if size != expected and not ("min_size" in part and size >= expected):
            raise _corrupt(path, f"{name} is truncated or corrupt ({size} bytes, recorded {expected})", docs)
    return folder


def _memmap(file: Path, dtype, shape: tuple) -> np.ndarray:
    if int(np.prod(shape)) == 0:
        return np.zeros(shape, dtype=dtype)
    return np.memmap(file, dtype=dtype, mode="r", shape=shape).view(np.ndarray)  # plain views index faster


def _reader_lock(folder: Path) -> int | None:
    """A shared lock on a generation: the writer removes a generation only when nobody holds one."""
    try:
        fd = os.open(folder / READER_LOCK, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def load(path: Path, docs=None) -> StoredIndex | None:
    """The published index in `path`, or None when there is none; QaBotError when it is damaged.

    Never waits for a writer. OldFormat when the folder holds a format-1 index.
    """
    if path.exists() and not path.is_dir():
        raise QaBotError(f"index path {path} is not a folder; pass --index DIR (or set QA_BOT_INDEX)")
    if not (path / DB).is_file():
        if (path / OLD_MANIFEST).is_file():
            raise OldFormat(f"index at {path} is in an older format")
        return None
    store = Store(path, docs=docs)
    if not store.query("SELECT name FROM sqlite_master WHERE name = 'meta'"):
        return None  # a first writer is creating it
    for _ in range(20):  # a generation removed between reading its number and locking it: read again
        found = store.current()
        if found is None:
            return None
        gen, info = found
        fd = _reader_lock(path / GENERATIONS / str(gen))
        if fd is not None:
            if store.info(gen) is not None:
                try:
                    stored = _open_generation(path, store, gen, info, _parts(path, gen, info, docs), docs)
                except BaseException:
                    os.close(fd)
                    raise
                stored._reader_fd = fd
                return stored
            os.close(fd)
        elif not (path / GENERATIONS / str(gen)).is_dir() and store.current_generation() == gen:
            raise _corrupt(path, f"{GENERATIONS}/{gen} is missing", docs)
        time.sleep(0.01)
    raise QaBotError(f"index at {path} keeps changing; try again")


def _open_generation(path: Path, store: Store, gen: int, info: dict, folder: Path, docs=None) -> StoredIndex:
    try:
        n, dim = int(info["passages"]), int(info["dimension"])
        model = str(info["model"])
    except (KeyError, TypeError, ValueError):
        raise _corrupt(path, f"generation {gen} record is missing fields", docs) from None
    try:
        pids = _memmap(folder / "pids.i64", np.int64, (n,))
        counts = _memmap(folder / "scount.i32", np.int32, (n,))
        starts = _memmap(folder / "sstart.i64", np.int64, (n,))
    except (OSError, ValueError) as exc:
        raise _corrupt(path, f"{GENERATIONS}/{gen}: {exc.strerror if isinstance(exc, OSError) else exc}", docs) from None
    store_info = info.get("sentence_store") or {}
    try:
        sentences = _RowReader(path / SENTENCES / str(store_info["file"]), int(store_info["rows"]), dim, np.float16)
    except (OSError, KeyError, ValueError):
        raise _corrupt(path, "the sentence vectors are missing or truncated", docs) from None
    record = info.get("vectors") or {}
    base_index, delta = _small_flat(path / VECTORS, record, dim)
    if base_index is None:
        import faiss

        try:
            flags = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY if record["kind"] == "flat" else faiss.IO_FLAG_MMAP
            base_index = faiss.read_index(str(path / VECTORS / record["base"]["file"]), flags)
            tune_vector_index(base_index)
            delta = faiss.read_index(str(path / VECTORS / record["delta"]["file"])) if record.get("delta") else None
        except Exception:
            raise _corrupt(path, f"{VECTORS}/{record.get('base', {}).get('file')} is truncated or corrupt", docs) from None
    live_in_base = int(np.searchsorted(pids, int(record["base"]["max_pid"]), side="right"))
    if (base_index.ntotal != record["base"]["count"] or base_index.d != dim
            or (delta.ntotal if delta is not None else 0) != n - live_in_base):
        raise _corrupt(path, f"the vector files hold {base_index.ntotal} vectors for {n} passages", docs)
    vectors = Vectors(base_index, delta, int(record["base"]["max_pid"]), n, base_index.ntotal - live_in_base)
    lexical = None
    lex = info.get("lexical")
    if lex:
        from .lexical import Analyzer, Lexical, Segment

        try:
            segments = [Segment.open(path / SEGMENTS / s["id"], s) for s in lex["segments"]]
            df = _memmap(folder / "lex-df.i32", np.int32, (int(lex["terms"]),))
            lexical = Lexical(segments, df, int(lex["N"]), int(lex["total_length"]), pids, store.term_ids,
                              Analyzer(frozenset(lex["stopwords"])))  # stored: answering never imports bm25s
        except (OSError, ValueError, KeyError, TypeError):
            raise _corrupt(path, "a BM25 segment is missing or truncated", docs) from None
        if lexical.size != n:
            raise _corrupt(path, "the BM25 segments do not match the passages", docs)
    return StoredIndex(path=path, model=model, dimension=dim, docs=str(info.get("docs", "")), generation=gen, info=info,
                       store=store, pids=pids, vectors=vectors, sentence_vectors=sentences, sentence_counts=counts,
                       sentence_starts=starts,
                       lexical=lexical)


def check(path: Path, docs=None) -> str:
    """Verify every part's SHA-256 and the database: one line saying OK, else QaBotError naming the damage."""
    stored = load(path, docs)
    if stored is None:
        raise QaBotError(f"no index at {path}; build one with: {hint(path, docs)}")
    problems = stored.store.query("PRAGMA quick_check")
    if problems and problems[0][0] != "ok":
        raise _corrupt(path, f"{DB}: {problems[0][0]}", docs)
    parts = _all_parts(path, stored.generation, stored.info)
    for file, part in parts.items():
        if "chunks" in part:
            with open(file, "rb") as fh:
                for chunk in part["chunks"]:
                    fh.seek(int(chunk["start"]) * part["row_bytes"])
                    digest, left = hashlib.sha256(), int(chunk["rows"]) * part["row_bytes"]
                    while left > 0:
                        data = fh.read(min(left, 1 << 24))
                        if not data:
                            break
                        digest.update(data)
                        left -= len(data)
                    if digest.hexdigest() != chunk["sha256"]:
                        raise _corrupt(path, f"{file.relative_to(path).as_posix()} does not match its recorded hash", docs)
        elif sha256_file(file) != part.get("sha256"):
            raise _corrupt(path, f"{file.relative_to(path).as_posix()} does not match its recorded hash", docs)
    onnx = stored.info.get("onnx")
    removed = ""
    if isinstance(onnx, dict):
        model_file = onnx_path(path, onnx.get("file"))
        if model_file is None or sha256_file(model_file) != onnx.get("sha256"):
            raise _corrupt(path, f"the ONNX model {onnx.get('file')} is missing or damaged", docs)
        from .encoders import remove_damaged_mapped

        gone, left = remove_damaged_mapped(model_file)
        if left:
            raise QaBotError(f"the mapped copy {left[0]} of the ONNX model is damaged and cannot be removed: "
                             f"remove that folder ({hint(path, docs)} makes it again)")
        if gone:  # a derived copy: removing it loses nothing, questions load the model itself meanwhile
            removed = f"; removed {gone} damaged mapped cop{'y' if gone == 1 else 'ies'} of the ONNX model ({hint(path, docs)} makes it again)"
    return (f"index at {path} is OK: generation {stored.generation}, {len(stored)} passages, "
            f"{len(parts)} parts verified{removed}")


def onnx_path(path: Path, name) -> Path | None:
    """A file an ONNX record names: a relative path inside the index folder, present on disk."""
    if not isinstance(name, str) or not name or Path(name).is_absolute() or ".." in Path(name).parts:
        return None
    file = path / name
    return file if file.is_file() else None


def sha256_file(file: Path) -> str:
    """The SHA-256 of a file, read a megabyte at a time."""
    digest = hashlib.sha256()
    with open(file, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- staleness


@dataclass(frozen=True)
class Scan:
    """One walk of the docs folder: (size, mtime_ns) per document, or an error for unreadable entries."""

    stats: dict[str, tuple[int, int]]
    errors: dict[str, str]
    paths: dict[str, Path] = field(default_factory=dict)  # source -> the file (names may be escaped)

    def digest(self) -> str:
        """A fingerprint of every (path, size, mtime): equal fingerprints mean nothing changed."""
        return stats_digest(self.stats)


def scan_docs(docs: Path, first_only: bool = False, follow_links: bool = False) -> Scan:
    """Every document under docs, as documents.iter_files lists them (formats it reads, hidden paths
    and links leaving the folder skipped unless `follow_links`), cited as documents.source_name names them.

    `first_only` stops at the first document (is there anything to index?).
    """
    from .documents import iter_files, source_name

    stats: dict[str, tuple[int, int]] = {}
    errors: dict[str, str] = {}
    paths: dict[str, Path] = {}
    for path in iter_files(docs, follow_links):
        rel = source_name(path, docs)
        paths[rel] = path
        try:
            st = path.stat()
            stats[rel] = (st.st_size, st.st_mtime_ns)
        except OSError as exc:
            errors[rel] = os.strerror(exc.errno) if exc.errno else str(exc)
            try:
                stats[rel] = (-1, path.lstat().st_mtime_ns)
            except OSError:
                stats[rel] = (-1, 0)
        if first_only:
            break
    return Scan(stats, errors, paths)


def is_stale(stored: StoredIndex, docs: Path, follow_links: bool = False, digest: str | None | object = UNKNOWN) -> bool:
    """True when files were added, removed or modified since the index was built.

    One directory walk compares sizes and mtimes with the stored file state; files that could
    not be read count as unchanged until their stat changes. `digest`: `quick_digest(docs)`
    when the caller computed it already (a front end's forked child, at start).
    """
    if stored.info.get("splitter") != SPLITTER_VERSION:
        return True
    if str(docs.resolve()) != stored.docs:
        return True
    recorded = stored.store.query("SELECT value FROM meta WHERE key = ?", (f"stats:{stored.generation}",))
    if recorded and recorded[0][0].startswith("v2:"):
        if digest is UNKNOWN:  # the common case: no links, all readable; a large folder on both cores
            digest = quick_digest(docs, split=_count(recorded[0][0]) >= SPLIT_FILES)
        if digest is not None:
            return recorded[0][0] != digest  # one small row instead of every file's state
    scan = scan_docs(docs, follow_links=follow_links)
    if recorded:
        return recorded[0][0] != scan.digest()
    files = stored.files
    if len(files) != len(scan.stats):
        return True
    for source, (size, mtime) in scan.stats.items():
        entry = files.get(source)
        if entry is None or (entry["size"], entry["mtime_ns"]) != (size, mtime):
            return True
    return False


def _count(recorded: str) -> int:
    """The number of files a stored fingerprint ('v2:COUNT:...') counted."""
    try:
        return int(recorded.split(":")[1])
    except (IndexError, ValueError):
        return 0


def check_docs(docs: Path, follow_links: bool = False) -> None:
    if not docs.exists():
        raise QaBotError(f"docs folder {docs} does not exist; pass --docs DIR or set QA_BOT_DOCS")
    if not docs.is_dir():
        raise QaBotError(f"{docs} is not a folder; pass a folder of documents with --docs DIR")
    if not scan_docs(docs, first_only=True, follow_links=follow_links).stats:
        raise QaBotError(f"docs folder {docs} has no .txt, .md, .pdf, .html or .docx files; add some or pass --docs DIR")


# --------------------------------------------------------------------------- the writer lock


@contextlib.contextmanager
def writer_lock(path: Path, notify: Callable[[str], None] | None = None):
    """One writer per index folder (an OS file lock, released when the process dies)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise QaBotError(f"cannot create index folder {path}: {exc.strerror or exc}") from None
    with holding(fd, f"waiting for another qa-bot writing {path} ...", notify):
        yield


@contextlib.contextmanager
def holding(fd: int, waiting: str, notify: Callable[[str], None] | None = None):
    """An exclusive lock on an open lock file, said once (`waiting`) when another process holds it;
    the file is closed, and the lock released, on leaving (or when the process dies)."""
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            (notify or log.warning)(waiting)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- progress


class Progress:
    """A tqdm bar with ETA on a terminal; one line on stderr every few seconds otherwise."""

    def __init__(self, total: int, desc: str, enabled: bool, every: float = 5.0, unit: str = "file"):
        self.total, self.desc, self.done, self.unit = total, desc, 0, unit
        self.enabled = enabled and total > 0
        self.bar = None
        self.start = self.last = time.monotonic()
        self.every = every
        if self.enabled and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr)

    def update(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            rate = self.done / max(now - self.start, 1e-9)
            eta = (self.total - self.done) / rate if rate > 0 else 0
            print(f"qa-bot: {self.desc}: {self.done:,}/{self.total:,} {self.unit}s ({100 * self.done / self.total:.0f}%), "
                  f"about {int(eta // 60)}m{int(eta % 60):02d}s left", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# --------------------------------------------------------------------------- vectors


FLAT_LIMIT = 50_000  # exact search up to here; beyond it an IVF index (see docs/performance.md)


def vector_index_kind(n: int) -> str:
    """'flat', 'ivf' or 'hnsw': QA_BOT_VECTOR_INDEX when set, else by corpus size."""
    kind = os.environ.get("QA_BOT_VECTOR_INDEX", "auto").lower()
    if kind not in ("auto", "flat", "ivf", "hnsw"):
        raise QaBotError(f"QA_BOT_VECTOR_INDEX must be auto, flat, ivf or hnsw (got {kind!r})")
    if kind == "auto":
        kind = "flat" if n <= FLAT_LIMIT else "ivf"
    return "flat" if n < 1000 else kind  # too few vectors to cluster


def tune_vector_index(index) -> None:
    """Search-time settings that are not stored with a FAISS index."""
    import faiss

    ivf = faiss.try_extract_index_ivf(index) if hasattr(faiss, "try_extract_index_ivf") else None
    if ivf is not None:
        ivf.nprobe = max(16, ivf.nlist // 128)
        lists = faiss.downcast_InvertedLists(ivf.invlists)
        if isinstance(lists, faiss.OnDiskInvertedLists):  # memory-mapped (IO_FLAG_MMAP): FAISS would start up to 32
            lists.prefetch_nthread = 0  # threads a question (one per list probed) to touch its pages first: 2-6 ms at 1M
    hnsw = getattr(faiss.downcast_index(index.index) if hasattr(index, "id_map") else index, "hnsw", None)
    if hnsw is not None:
        hnsw.efSearch = 128


_omp = threading.local()


def _one_search_thread() -> None:
    """FAISS answers a question on the calling thread alone. One query leaves its OpenMP threads
    nothing to do, and while they spin waiting for work they take the core that BM25's worker thread
    needs (search.PARALLEL_LEXICAL). OpenMP's thread count is set per calling thread."""
    if not getattr(_omp, "single", False):
        import faiss

        faiss.omp_set_num_threads(1)
        _omp.single = True


def _all_cores() -> None:
    """FAISS trains and fills an index with every core (OMP_NUM_THREADS when set), also on a thread
    that searched before."""
    import faiss

    from .embed import usable_cores

    try:
        wanted = int(os.environ.get("OMP_NUM_THREADS", "").split(",")[0])
    except ValueError:
        wanted = 0
    faiss.omp_set_num_threads(wanted if wanted > 0 else usable_cores())
    _omp.single = False


def build_vector_index(vectors: np.ndarray, kind: str | None = None, ids: np.ndarray | None = None):
    """Inner-product search over normalised vectors (cosine similarity), keyed by passage id."""
    import faiss

    _all_cores()

    n, d = vectors.shape  # may be a memory map: added in chunks, never copied whole
    ids = np.arange(n, dtype=np.int64) if ids is None else np.ascontiguousarray(ids, dtype=np.int64)
    kind = kind or vector_index_kind(n)
    if kind == "ivf":
        nlist = int(min(max(4 * np.sqrt(n), 64), 65536))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        sample = vectors[np.sort(np.random.default_rng(0).choice(n, min(n, nlist * 64), replace=False))]
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        index.set_direct_map_type(faiss.DirectMap.Hashtable)  # rows read back by id (fusion, updates)
    else:
        base = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT) if kind == "hnsw" else faiss.IndexFlatIP(d)
        if kind == "hnsw":
            base.hnsw.efConstruction = 80
        index = faiss.IndexIDMap2(base)
    for start in range(0, n, 65536):
        index.add_with_ids(np.ascontiguousarray(vectors[start : start + 65536], dtype=np.float32), ids[start : start + 65536])
    tune_vector_index(index)
    return index


def _write_vectors(path: Path, gen: int, base: StoredIndex | None, retired_pids: np.ndarray, new_vectors: np.ndarray,
                   new_ids: np.ndarray, pids: np.ndarray) -> dict:
    """Passage vectors for the new generation, by id: in proportion to the change while the base still fits.

    The base FAISS file (exact or IVF) is kept as it is; vectors added since it was written live in
    a small exact delta, rewritten each time; removed ids drop out at search (they are not in the
    generation's ids). The base is rebuilt, and IVF retrained, only when the corpus has grown or
    shrunk by IVF_DRIFT since training, the index kind changes, or the delta or the removed
    vectors pass DELTA_SHARE of the base.
    """
    import faiss

    folder = path / VECTORS
    folder.mkdir(parents=True, exist_ok=True)
    n_total = len(pids)
    kind = vector_index_kind(n_total)
    prev = base.info.get("vectors") if base is not None else None
    if prev is not None:
        trained, base_count = int(prev["trained_n"]), int(prev["base"]["count"])
        max_pid = int(prev["base"]["max_pid"])
        live_in_base = int(np.searchsorted(pids, max_pid, side="right"))
        delta_ids = pids[live_in_base:]
        keeps = prev["kind"] == kind and kind != "hnsw" and (
            kind == "flat" or (n_total <= IVF_DRIFT * trained and n_total * IVF_DRIFT >= trained))
        small = (len(delta_ids) <= min(DELTA_SHARE * base_count + 64, DELTA_MAX)
                 and base_count - live_in_base <= DELTA_SHARE * base_count + 64)
        if keeps and not small:  # fold the delta into the base by id, keeping its trained centroids
            _all_cores()
            index = faiss.read_index(str(folder / prev["base"]["file"]))
            index.remove_ids(faiss.IDSelectorNot(faiss.IDSelectorBatch(np.ascontiguousarray(pids[:live_in_base]))))
            old = delta_ids[np.isin(delta_ids, new_ids, invert=True)]
            if len(old):
                index.add_with_ids(base.vectors.reconstruct_batch(old), old)
            if len(new_ids):
                index.add_with_ids(np.ascontiguousarray(new_vectors, dtype=np.float32), np.ascontiguousarray(new_ids, dtype=np.int64))
            return _write_base(folder, gen, index, kind, trained, pids)
        if keeps and small:
            delta = faiss.IndexIDMap2(faiss.IndexFlatIP(base.dimension))
            old = delta_ids[np.isin(delta_ids, new_ids, invert=True)]
            if len(old):
                delta.add_with_ids(base.vectors.reconstruct_batch(old), old)
            if len(new_ids):
                delta.add_with_ids(np.ascontiguousarray(new_vectors, dtype=np.float32), np.ascontiguousarray(new_ids, dtype=np.int64))
            record = dict(prev, delta=None)
            if delta.ntotal:
                name = f"delta-{gen}.faiss"
                faiss.write_index(delta, str(folder / f".{name}.tmp"))
                os.replace(folder / f".{name}.tmp", folder / name)
                record["delta"] = {"file": name, "count": int(delta.ntotal), "size": (folder / name).stat().st_size,
                                   "sha256": sha256_file(folder / name)}
            return record
    # a first build, a change of kind, or past the bounds: one base from every live vector
    if base is None:
        index = build_vector_index(new_vectors, kind, new_ids)
    else:
        keep_rows = np.nonzero(~np.isin(base.pids, retired_pids))[0]
        chunks = [base.row_vectors(keep_rows[i : i + 65536]) for i in range(0, len(keep_rows), 65536)]
        chunks.append(np.asarray(new_vectors, dtype=np.float32).reshape(-1, base.dimension))
        index = build_vector_index(np.concatenate(chunks), kind, np.concatenate([base.pids[keep_rows], new_ids]))
    return _write_base(folder, gen, index, kind, n_total, pids)


def _write_base(folder: Path, gen: int, index, kind: str, trained: int, pids: np.ndarray) -> dict:
    import faiss

    name = f"base-{gen}.faiss"
    faiss.write_index(index, str(folder / f".{name}.tmp"))
    os.replace(folder / f".{name}.tmp", folder / name)
    return {"kind": kind, "trained_n": trained, "delta": None,
            "base": {"file": name, "count": int(index.ntotal), "max_pid": int(pids[-1]) if len(pids) else -1,
                     "size": (folder / name).stat().st_size, "sha256": sha256_file(folder / name)}}


NUMPY_FLAT_BYTES = 8 << 20  # an exact index up to this size (about 5,000 passages) is read without FAISS
_FAISS_HEADER = struct.Struct("<4siqqq?i")  # fourcc, d, ntotal, two unused, is_trained, metric (0: inner product)


class FlatFile:
    """A FAISS IndexIDMap2(IndexFlatIP) file read with numpy and searched exactly, as FAISS would: a
    small index then answers without importing FAISS (80 ms of a cold `ask`)."""

    def __init__(self, vectors: np.ndarray, ids: np.ndarray):
        self.vectors, self.ids = vectors, ids
        self.d, self.ntotal = vectors.shape[1], len(ids)
        self._order = np.arange(len(ids)) if np.all(ids[1:] > ids[:-1]) else np.argsort(ids, kind="stable")
        self._sorted = ids[self._order]

    @classmethod
    def read(cls, file: Path, d: int) -> "FlatFile | None":
        """The file's vectors and ids, or None when it is not such a file of dimension `d` (or too big)."""
        try:
            if file.stat().st_size > NUMPY_FLAT_BYTES:
                return None
            data = file.read_bytes()
        except OSError:
            return None
        head = _FAISS_HEADER.size
        if len(data) < 2 * head + 8:
            return None
        outer, inner = _FAISS_HEADER.unpack_from(data, 0), _FAISS_HEADER.unpack_from(data, head)
        n, (count,) = outer[2], struct.unpack_from("<Q", data, 2 * head)
        at = 2 * head + 8 + 4 * n * d
        if (outer[0], inner[0], outer[1], inner[1], inner[2], outer[6], inner[6], count) != (
                b"IxM2", b"IxFI", d, d, n, 0, 0, n * d) or len(data) != at + 8 + 8 * n:
            return None
        if struct.unpack_from("<Q", data, at)[0] != n:
            return None
        vectors = np.frombuffer(data, np.float32, n * d, 2 * head + 8).reshape(n, d).copy()  # aligned
        return cls(vectors, np.frombuffer(data, np.int64, n, at + 8).copy())

    def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the k best for one question vector (a 1 x d array), best first, as FAISS
        returns them (among exactly equal scores the order may differ)."""
        scores = self.vectors @ np.asarray(q, dtype=np.float32)[0]
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if 0 < k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return scores[top][None, :], self.ids[top][None, :]

    def reconstruct_batch(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of these ids; KeyError for an id the file does not hold (FAISS raises too)."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) and not len(self.ids):
            raise KeyError("an id the vector file does not hold")
        rows = self._order[np.minimum(np.searchsorted(self._sorted, ids), max(len(self.ids) - 1, 0))]
        if np.any(self.ids[rows] != ids):
            raise KeyError("an id the vector file does not hold")
        return self.vectors[rows]


def _small_flat(folder: Path, record: dict, d: int) -> tuple["FlatFile | None", "FlatFile | None"]:
    """An exact index's base and delta read by FlatFile when both can be, else (None, None)."""
    if (record.get("kind") != "flat" or not isinstance(record.get("base"), dict)
            or not isinstance(record.get("delta") or {}, dict)):
        return None, None  # not ours to read: FAISS reads it, or says what is wrong
    base = FlatFile.read(folder / str(record["base"].get("file")), d)
    delta = FlatFile.read(folder / str(record["delta"].get("file")), d) if record.get("delta") else None
    if base is None or (record.get("delta") and delta is None):
        return None, None
    return base, delta


def _next_pid(store: Store, published) -> int:
    """The first passage id never used: ids are never given twice, since a vector file may still hold
    a removed passage's id (a base keeps its dead rows until it is folded) after its row is pruned."""
    recorded = store.query("SELECT value FROM meta WHERE key = 'next_pid'")
    base = ((published.info.get("vectors") or {}).get("base") or {}) if published is not None else {}
    try:
        kept = int(recorded[0][0]) if recorded else 0
    except (TypeError, ValueError):
        kept = 0  # a damaged value: the other two bounds cover every id still in a file
    return max(int(store.query("SELECT COALESCE(MAX(pid), -1) + 1 FROM passages")[0][0]), kept,
               int(base.get("max_pid", -1)) + 1)


class Vectors:
    """A generation's passage vectors: the base index and the delta, searched as one (by passage id)."""

    def __init__(self, base, delta, max_pid: int, live: int, dead: int):
        self.base, self.delta, self.max_pid = base, delta, max_pid
        self.ntotal, self.dead = live, dead
        self.d = base.d
        self.faiss = not isinstance(base, FlatFile)

    def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), best first; over-fetches from the base when some of its ids were removed."""
        fetch = min(self.base.ntotal, k + (2 * k + 32 if self.dead else 0))
        scores, ids = self.base.search(q, max(fetch, 1))
        if self.delta is not None and self.delta.ntotal:
            s2, i2 = self.delta.search(q, min(k, self.delta.ntotal))
            scores, ids = np.concatenate([scores, s2], axis=1), np.concatenate([ids, i2], axis=1)
            order = np.argsort(-scores[0], kind="stable")
            scores, ids = scores[:, order], ids[:, order]
        return scores, ids

    def reconstruct_batch(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        in_delta = ids > self.max_pid
        out = np.zeros((len(ids), self.d), dtype=np.float32)
        if (~in_delta).any():
            out[~in_delta] = self.base.reconstruct_batch(np.ascontiguousarray(ids[~in_delta]))
        if in_delta.any():
            out[in_delta] = self.delta.reconstruct_batch(np.ascontiguousarray(ids[in_delta]))
        return out


# --------------------------------------------------------------------------- writing


class _RowReader:
    """A read-only matrix in a file (`rows` x `dim` of `dtype`), read with pread for the rows asked.

    Used for sentence vectors instead of a memory map: the kernel maps file pages in large
    folios, so a memory map that reads 200 passages' sentences counted about 300 MiB in the
    process's RSS at 1M passages; pread copies only the rows (about 1 ms per question).
    """

    def __init__(self, file: Path, rows: int, dim: int, dtype):
        self.dtype = np.dtype(dtype)
        self.shape = (int(rows), int(dim))
        self.row_bytes = self.shape[1] * self.dtype.itemsize
        self.fd = os.open(file, os.O_RDONLY)
        if os.fstat(self.fd).st_size < self.shape[0] * self.row_bytes:
            os.close(self.fd)
            raise ValueError(f"{file} is shorter than {rows} rows")

    def __len__(self) -> int:
        return self.shape[0]

    def __del__(self):
        with contextlib.suppress(Exception):
            os.close(self.fd)

    def _read(self, out: np.ndarray, start: int) -> None:
        view, at = memoryview(out).cast("B"), start * self.row_bytes
        while len(view):
            n = os.preadv(self.fd, [view], at)
            if n <= 0:
                raise QaBotError("the sentence vectors file was truncated while reading it")
            view, at = view[n:], at + n

    def __getitem__(self, key) -> np.ndarray:
        rows, dim = self.shape
        if isinstance(key, (int, np.integer)):
            key = int(key) + (rows if int(key) < 0 else 0)
            if not 0 <= key < rows:
                raise IndexError(key)
            return self[key : key + 1][0]
        if isinstance(key, slice):
            start, stop, step = key.indices(rows)
            if step != 1:
                return self[np.arange(start, stop, step)]
            out = np.empty((max(stop - start, 0), dim), dtype=self.dtype)
            if len(out):
                self._read(out, start)
            return out
        wanted = np.asarray(key, dtype=np.int64).reshape(-1)
        wanted = np.where(wanted < 0, wanted + rows, wanted)
        if len(wanted) and (wanted.min() < 0 or wanted.max() >= rows):
            raise IndexError("sentence row out of range")
        out = np.empty((len(wanted), dim), dtype=self.dtype)
        if not len(wanted):
            return out
        cuts = np.flatnonzero(np.diff(wanted) != 1) + 1  # one read per run of consecutive rows
        for a, b in zip(np.concatenate([[0], cuts]).tolist(), np.concatenate([cuts, [len(wanted)]]).tolist()):
            self._read(out[a:b], int(wanted[a]))
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        data = self[0 : self.shape[0]]
        return data if dtype is None else data.astype(dtype, copy=False)


class _RowFile:
    """A float32 matrix in a file, read a slice at a time. Not memory-mapped: pages a memory map has
    read count in the process's RSS until it is closed, pages of the file cache do not."""

    def __init__(self, file: Path, rows: int, dim: int):
        self.file, self.shape = file, (rows, dim)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        rows, dim = self.shape
        if isinstance(key, slice):
            start, stop, step = key.indices(rows)
            if step != 1:
                return self[np.arange(start, stop, step)]
            count = max(stop - start, 0)
            with open(self.file, "rb") as fh:
                fh.seek(start * dim * 4)
                data = np.fromfile(fh, dtype=np.float32, count=count * dim)
            return data.reshape(count, dim)
        wanted = np.asarray(key, dtype=np.int64)  # rows in any order: read in chunks, keep the wanted ones
        out = np.empty((len(wanted), dim), dtype=np.float32)
        order = np.argsort(wanted, kind="stable")
        sorted_rows = wanted[order]
        for start in range(0, rows, 65536):
            lo, hi = np.searchsorted(sorted_rows, [start, start + 65536])
            if lo < hi:
                out[order[lo:hi]] = self[start : start + 65536][sorted_rows[lo:hi] - start]
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        data = self[0 : self.shape[0]]
        return data if dtype is None else data.astype(dtype, copy=False)


class _HashingFile:
    """A file written once, with its SHA-256 and size kept as it goes."""

    def __init__(self, file: Path):
        self.file = file
        self.fh = open(file, "wb")
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, array: np.ndarray) -> None:
        data = np.ascontiguousarray(array).tobytes()
        self.fh.write(data)
        self.digest.update(data)
        self.size += len(data)

    def close(self) -> dict:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        return {"size": self.size, "sha256": self.digest.hexdigest()}


def fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass
class FileChange:
    """One document's new state: its stat and hash, and its passages (None when it was skipped)."""

    source: str
    size: int
    mtime_ns: int
    sha256: str | None
    passages: list[Passage] | None
    skipped: str | None = None


def _generation_ids(path: Path) -> set[int]:
    folder = path / GENERATIONS
    out = set()
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.name.isdigit():
                out.add(int(entry.name))
    return out


def _collect_garbage(path: Path, store: Store) -> None:
    """Remove temporary folders, generations never published, and old ones no reader holds."""
    folder = path / GENERATIONS
    current = store.current_generation()
    known = {int(g) for (g,) in store.query("SELECT gen FROM generations")}
    if folder.is_dir():
        for entry in folder.iterdir():
            if not entry.name.isdigit():
                shutil.rmtree(entry, ignore_errors=True)  # a dead writer's temporary folder
            elif int(entry.name) not in known:
                shutil.rmtree(entry, ignore_errors=True)  # written but never published
    for tmp in path.glob(".*.tmp"):
        tmp.unlink(missing_ok=True)
    _collect_segments(path, store)
    live = {current} if current is not None else set()
    doomed: list[tuple[int, int]] = []
    for gen in sorted(known - live):
        lock_file = folder / str(gen) / READER_LOCK
        try:
            fd = os.open(lock_file, os.O_RDONLY)
        except OSError:
            doomed.append((gen, -1))
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            live.add(gen)  # a reader still answers from it
            continue
        doomed.append((gen, fd))
    if not doomed:
        return
    try:
        live_list = sorted(live)
        keep = " OR ".join(f"(gen_from <= {g} AND (gen_to IS NULL OR gen_to > {g}))" for g in live_list) or "0"
        with _transaction(store):
            store.conn.executemany("DELETE FROM generations WHERE gen = ?", [(g,) for g, _ in doomed])
            store.conn.executemany("DELETE FROM meta WHERE key = ?", [(f"stats:{g}",) for g, _ in doomed])
            store.conn.execute(f"DELETE FROM passages WHERE gen_to IS NOT NULL AND NOT ({keep})")
            store.conn.execute(f"DELETE FROM files WHERE gen_to IS NOT NULL AND NOT ({keep})")
        for gen, _ in doomed:
            shutil.rmtree(folder / str(gen), ignore_errors=True)
        _collect_segments(path, store)
    finally:
        for _, fd in doomed:
            if fd >= 0:
                os.close(fd)


def _collect_segments(path: Path, store: Store) -> None:
    """Remove BM25 segments and sentence files no generation lists (a dead writer's, or replaced ones)."""
    used, files, vector_files = set(), set(), set()
    for (info,) in store.query("SELECT info FROM generations"):
        record = json.loads(info)
        used |= {s["id"] for s in (record.get("lexical") or {}).get("segments", [])}
        files.add((record.get("sentence_store") or {}).get("file"))
        vector_files |= {(record.get("vectors") or {}).get(k, {}) and record["vectors"][k]["file"] for k in ("base", "delta")
                         if (record.get("vectors") or {}).get(k)}
    for folder, keep in ((path / SEGMENTS, used), (path / SENTENCES, files), (path / VECTORS, vector_files)):
        if folder.is_dir():
            for entry in folder.iterdir():
                if entry.name not in keep:
                    shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)


@contextlib.contextmanager
def _transaction(store: Store):
    with store._lock:
        store.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            store.conn.execute("ROLLBACK")
            raise
        store.conn.execute("COMMIT")


def _open_for_writing(path: Path, docs=None) -> Store:
    """The store, created when missing; a damaged or old-format folder is cleared first."""
    old = (path / OLD_MANIFEST).is_file()
    if (path / DB).is_file() and not old:
        try:
            store = Store(path, create=True)
        except QaBotError:
            store = None
        try:  # a cheap probe: `qa-bot index --check` runs the full integrity check
            if store is not None and store.query("SELECT COUNT(*) FROM meta") is not None:
                return store
        except QaBotError:
            pass
        if store is not None:
            store.close()
        log.warning("index database %s is damaged; building a new index", path / DB)
    _clear(path)
    return Store(path, create=True)


def _clear(path: Path) -> None:
    """Remove every index file in `path` (not the lock and not onnx/, which a new build reuses)."""
    for name in (DB, DB + "-wal", DB + "-shm", OLD_MANIFEST):
        (path / name).unlink(missing_ok=True)
    shutil.rmtree(path / GENERATIONS, ignore_errors=True)
    shutil.rmtree(path / SEGMENTS, ignore_errors=True)
    shutil.rmtree(path / SENTENCES, ignore_errors=True)
    shutil.rmtree(path / VECTORS, ignore_errors=True)
    for pattern in ("vectors-*.faiss", "sentences-*.npy", "lexical-*.npz", "lexical-*.json", ".*.tmp"):
        for f in path.glob(pattern):
            f.unlink(missing_ok=True)


def _compatible(info: dict | None, encoder: TextEncoder, meta: dict) -> bool:
    return (info is not None and info.get("model") == encoder.name and int(info.get("dimension", -1)) == encoder.dimension
            and info.get("backend", "torch") == meta.get("backend", "torch"))


def update(
    path: Path,
    docs: Path,
    encoder: TextEncoder,
    previous: StoredIndex | None = None,
    progress: bool = False,
    meta: dict | None = None,
    rebuild: bool = False,
    notify: Callable[[str], None] | None = None,
    follow_links: bool = False,
) -> tuple[StoredIndex, UpdateReport]:
    """Bring the index at `path` in line with `docs`, embedding only text not embedded before.

    Takes the writer lock (waiting, with one line, while another writer holds it), then works
    from the newest published generation, so a second writer does only what is left. A
    different model or backend (in `meta`) means nothing is reused. `previous` is ignored
    (kept for callers of the first format): the state is always read under the lock.
    Files are listed and read as documents.scan_folder does (`follow_links` included); the
    files left out are reported in one line, unreadable ones once (they are remembered).
    """
    meta = dict(meta or {})
    check_docs(docs, follow_links)
    with writer_lock(path, notify):
        store = _writable_store(path, rebuild, docs)
        try:
            return _update_locked(path, docs, encoder, store, progress, meta, rebuild, follow_links)
        finally:
            store.close()


def _writable_store(path: Path, rebuild: bool, docs=None) -> Store:
    """The store with leftovers cleaned; a damaged published generation is cleared when rebuilding, else refused."""
    store = _open_for_writing(path)
    _collect_garbage(path, store)
    try:
        load(path, docs)
    except QaBotError:
        if not rebuild:
            store.close()
            raise
        store.close()
        _clear(path)
        store = Store(path, create=True)
    return store


def _update_locked(path, docs, encoder, store, progress, meta, rebuild, follow_links=False):
    current = store.current()
    prev = load(path) if current is not None else None
    compatible = prev is not None and _compatible(prev.info, encoder, meta)
    full = rebuild or not compatible or prev.info.get("splitter") != SPLITTER_VERSION
    moved = prev is not None and prev.docs != str(docs.resolve())  # engine refuses this unless asked; here: record it
    old_files = {} if full or prev is None else prev.files
    scan = scan_docs(docs, follow_links=follow_links)
    candidates = sorted(s for s, st in scan.stats.items()
                        if s not in old_files or (old_files[s]["size"], old_files[s]["mtime_ns"]) != st)
    removed = sorted(set(old_files) - set(scan.stats))

    from .documents import Skipped, load as read_file

    def changes() -> Iterator[FileChange]:
        for source in candidates:
            size, mtime = scan.stats[source]
            doc = read_file(scan.paths[source], docs, follow_links)
            if isinstance(doc, Skipped):
                yield FileChange(source, size, mtime, None, None, doc.reason)
                continue
            old = old_files.get(source)
            if old is not None and old["sha256"] == doc.sha256 and not old["skipped"]:
                yield FileChange(source, size, mtime, doc.sha256, None)  # touched, same content
                continue
            yield FileChange(source, size, mtime, doc.sha256, split_document(doc, encoder.max_tokens, encoder.count_tokens))

    return _write_changes(path, store, prev if compatible else None, prev, encoder, docs, changes(), len(candidates),
                          removed, full, progress, meta, total_files=len(scan.stats), force=moved,
                          left_out=_left_out(docs, follow_links))


def _left_out(docs: Path, follow_links: bool) -> list:
    """Files under docs that are not indexed at all (another format, a link leaving the folder), with why."""
    from .documents import left_out

    return left_out(docs, follow_links)


def update_units(path: Path, label: Path, encoder: TextEncoder, units: list[FileChange], meta: dict | None = None,
                 progress: bool = False) -> StoredIndex:
    """Index passages that do not come from a docs folder (a benchmark corpus), reused while unchanged."""
    meta = dict(meta or {})
    with writer_lock(path):
        store = _writable_store(path, True)
        try:
            current = store.current()
            prev = load(path) if current is not None else None
            compatible = prev is not None and _compatible(prev.info, encoder, meta)
            if compatible and prev.info.get("splitter") == SPLITTER_VERSION:
                files = prev.files
                if {u.source: u.sha256 for u in units} == {s: f["sha256"] for s, f in files.items()}:
                    return prev
            removed = []
            if prev is not None:  # every row: a unit's passages carry their own sources (a BEIR document id each)
                removed = sorted(set(prev.files) | {s for (s,) in store.query(
                    f"SELECT DISTINCT source FROM passages WHERE {VISIBLE}", {"g": prev.generation})})
            stored, _ = _write_changes(path, store, prev if compatible else None, prev, encoder, label, iter(units), len(units),
                                       removed, True, progress, meta, total_files=len(units))
            return stored
        finally:
            store.close()


def _write_changes(path: Path, store: Store, prev: StoredIndex | None, published: StoredIndex | None, encoder: TextEncoder,
                   docs: Path, changes: Iterator[FileChange], n_changes: int, removed_files: list[str], full: bool,
                   progress: bool, meta: dict, total_files: int, force: bool = False,
                   left_out: list | None = None) -> tuple[StoredIndex, UpdateReport]:
    """Embed and store the changes as a new generation (or only record new stats when no content changed).

    `left_out`: files not indexed at all (another format, links leaving the folder), reported
    in the one line that names the files skipped, with the newly unreadable ones.

    `prev` is the published generation when its vectors may be reused, `published` the one
    whatever its model. All SQLite changes happen in one transaction, which is the commit.
    """
    gen_prev = published.generation if published is not None else None
    gen = (max(_generation_ids(path) | {int(g) for (g,) in store.query("SELECT gen FROM generations")} | {0}) + 1)
    old_files = published.files if published is not None else {}
    tmp = path / GENERATIONS / f".{gen}.{uuid.uuid4().hex[:8]}.tmp"
    scratch = tmp.with_name(tmp.name + ".scratch")  # batches written while building (bounded memory)
    tmp.mkdir(parents=True, exist_ok=True)
    scratch.mkdir()
    next_pid = _next_pid(store, published)
    bar = Progress(n_changes, "indexing", progress)
    new_sent = _HashingFile(scratch / "new-sentences.f16")
    new_vec_file = open(scratch / "new-vectors.f32", "wb")
    new_rows_file = open(scratch / "new-rows.jsonl", "w", encoding="utf-8")
    new_pids: list[int] = []
    new_counts: list[np.ndarray] = []
    new_terms_file = open(scratch / "new-terms.i32", "wb")  # BM25: term ids of the new passages, end to end
    new_lengths = array.array("q")  # ... and how many belong to each
    terms = _Terms(store)
    from .lexical import Analyzer, passage_text

    stopwords = ((published.info.get("lexical") or {}).get("stopwords") if published is not None else None)
    analyzer = Analyzer(frozenset(stopwords) if stopwords else None)  # the index's own list, without importing bm25s
    file_rows: list[FileChange] = []
    stat_only: list[FileChange] = []
    changed, skipped = [], []
    reasons: dict[str, str] = {}
    embedded = reused = 0
    batch: list[FileChange] = []

    def flush() -> None:
        nonlocal next_pid, embedded, reused
        passages = [p for c in batch for p in c.passages]
        if passages:
            retired = [c.source for c in batch if c.source in old_files] if prev is not None else []
            vecs, sents, counts, n_new = _embed_batch(passages, encoder, prev, retired)
            embedded += n_new
            reused += len(passages) + int(counts.sum()) - n_new
            new_vec_file.write(np.ascontiguousarray(vecs, dtype=np.float32).tobytes())
            new_counts.append(counts)
            new_sent.write(sents)
            for p in passages:
                ids = terms.ids(analyzer.terms(passage_text(p)))
                new_terms_file.write(ids.tobytes())
                new_lengths.append(len(ids))
            for p in passages:
                new_rows_file.write(json.dumps([next_pid, p.source, text_key(embedding_text(p)), p.id, passage_to_json(p)],
                                               ensure_ascii=False) + "\n")
                new_pids.append(next_pid)
                next_pid += 1
        for c in batch:  # what is written is not kept: only how many passages each file has
            c.passages = [None] * len(c.passages)
        bar.update(len(batch))
        batch.clear()

    try:
        pending = 0
        for change in changes:
            if change.passages is None and change.skipped is None:
                stat_only.append(change)
                bar.update(1)
                continue
            if change.skipped is not None:
                old = old_files.get(change.source)
                skipped.append(change.source)
                reasons[change.source] = change.skipped
                if old is not None and old["skipped"]:
                    stat_only.append(change)  # still unreadable: remember its new stat, nothing to re-index
                else:
                    file_rows.append(change)
                    changed.append(change.source)
                bar.update(1)
                continue
            file_rows.append(change)
            changed.append(change.source)
            batch.append(change)
            pending += len(change.passages)
            if pending >= BATCH_PASSAGES:
                flush()
                pending = 0
        flush()
        _kill_point("embedded")
        content_changed = full or force or bool(removed_files) or bool(changed) or published is None
        from .documents import Folder, Skipped

        new_skips = [Skipped(s, reasons[s]) for s in skipped if not (old_files.get(s) or {}).get("skipped")]
        summary = Folder(skipped=sorted(new_skips + list(left_out or ()), key=lambda s: s.source)).summary()
        if summary:  # unreadable files once (they are remembered); other formats and outside links every run
            log.warning("%s", summary)
        if not content_changed:
            with _transaction(store):
                _record_stats(store, gen_prev, stat_only + file_rows)
            shutil.rmtree(tmp, ignore_errors=True)
            readable = sum(1 for f in old_files.values() if not f["skipped"])
            return published, UpdateReport(readable, len(published), 0, 0, [], [], False, skipped, published=False)
        if not any(c.passages for c in file_rows) and not (published and len(published)) and not new_pids:
            raise QaBotError(f"no readable documents in {docs}")
        new_sent.close()
        new_vec_file.close()
        new_rows_file.close()
        new_terms_file.close()
        n_postings = sum(new_lengths)
        new_docs = (np.memmap(scratch / "new-terms.i32", dtype=np.int32, mode="r", shape=(n_postings,)) if n_postings
                    else np.zeros(0, dtype=np.int32), np.frombuffer(new_lengths, dtype=np.int64) if new_lengths else np.zeros(0, np.int64))
        vectors_new = (_RowFile(scratch / "new-vectors.f32", len(new_pids), encoder.dimension)
                       if new_pids else np.zeros((0, encoder.dimension), dtype=np.float32))
        stored_info = _write_generation(path, tmp, scratch, gen, prev, published, encoder, docs, meta, full, removed_files,
                                        file_rows, np.array(new_pids, dtype=np.int64), vectors_new, new_counts, new_docs,
                                        terms, analyzer)
        del vectors_new
        _kill_point("written")
        final = path / GENERATIONS / str(gen)
        os.replace(tmp, final)
        fsync_dir(path / GENERATIONS)
        _kill_point("renamed")
        retire = set(removed_files) | {c.source for c in file_rows}
        if full:
            retire |= set(old_files)
        with _transaction(store):
            if gen_prev is not None and retire:
                _retire(store, gen_prev, gen, sorted(retire))
            with open(scratch / "new-rows.jsonl", encoding="utf-8") as rows:
                store.conn.executemany("INSERT INTO passages(pid, gen_from, source, tkey, pkey, data) VALUES (?, ?, ?, ?, ?, ?)",
                                       ((r[0], gen, *r[1:]) for r in map(json.loads, rows)))
            store.conn.executemany(
                "INSERT INTO files(source, gen_from, size, mtime_ns, sha256, passages, skipped) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(c.source, gen, c.size, c.mtime_ns, c.sha256, len(c.passages or []), c.skipped) for c in file_rows])
            _record_stats(store, gen, stat_only)
            store.conn.executemany("INSERT INTO terms(term, tid) VALUES (?, ?)", terms.new.items())
            store.conn.execute("INSERT INTO generations(gen, info) VALUES (?, ?)", (gen, json.dumps(stored_info)))
            store.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('current', ?)", (str(gen),))
            store.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('format', ?)", (str(FORMAT),))
            store.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('next_pid', ?)", (str(next_pid),))
            _kill_point("commit")
        _kill_point("committed")
        for name in (OLD_MANIFEST,):
            (path / name).unlink(missing_ok=True)
        with contextlib.suppress(sqlite3.Error):
            store.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        _collect_garbage(path, store)
    except BaseException:
        for fh in (new_sent.fh, new_vec_file, new_rows_file, new_terms_file):
            with contextlib.suppress(Exception):
                fh.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    stored = load(path)
    report = UpdateReport(files=sum(1 for f in stored.files.values() if not f["skipped"]), passages=len(stored), embedded=embedded, reused=reused,
                          removed_files=removed_files, changed_files=sorted(set(changed) - set(skipped)),
                          rebuilt=full or prev is None, skipped_files=skipped)
    return stored, report


def _record_stats(store: Store, gen: int | None, changes: list[FileChange]) -> None:
    """New size and mtime for files whose content is unchanged (or still unreadable): no new generation.

    Also records the fingerprint of all the generation's file stats, which `is_stale` compares.
    """
    if gen is None:
        return
    store.conn.executemany(
        "UPDATE files SET size = ?, mtime_ns = ? WHERE source = ? AND gen_from <= ? AND (gen_to IS NULL OR gen_to > ?)",
        [(c.size, c.mtime_ns, c.source, gen, gen) for c in changes])
    rows = store.conn.execute("SELECT source, size, mtime_ns FROM files WHERE gen_from <= ? AND (gen_to IS NULL OR gen_to > ?)",
                              (gen, gen)).fetchall()
    store.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                       (f"stats:{gen}", stats_digest({r[0]: (r[1], r[2]) for r in rows})))


def _retire(store: Store, gen_prev: int, gen: int, sources: list[str]) -> None:
    """Rows of these files visible in the previous generation end at `gen`."""
    for start in range(0, len(sources), 500):
        chunk = sources[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for table in ("passages", "files"):
            store.conn.execute(
                f"UPDATE {table} SET gen_to = ? WHERE source IN ({marks}) AND gen_from <= ? AND (gen_to IS NULL OR gen_to > ?)",
                [gen, *chunk, gen_prev, gen_prev])


def _embed_batch(passages: list[Passage], encoder: TextEncoder, prev: StoredIndex | None, retired: list[str]):
    """Passage and sentence vectors for one batch, copying what `prev` already holds for the same text.

    Known texts: passages anywhere in `prev` with the same text (by key), and the sentences of
    the retired files' old passages. A one-sentence passage's sentence vector is its own.
    Returns (vectors, float16 sentence vectors, sentences per passage, texts embedded).
    """
    known: dict[str, np.ndarray] = {}
    known_sentences: dict[str, np.ndarray] = {}
    if prev is not None:
        keys = sorted({text_key(embedding_text(p)) for p in passages})
        pid_of: dict[str, int] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for tkey, pid in prev.store.query(
                    f"SELECT tkey, pid FROM passages WHERE tkey IN ({marks}) AND gen_from <= ? AND (gen_to IS NULL OR gen_to > ?)",
                    [*chunk, prev.generation, prev.generation]):
                pid_of.setdefault(tkey, int(pid))
        if pid_of:
            rows = prev.rows(np.array(list(pid_of.values()), dtype=np.int64))
            vecs = prev.row_vectors(rows)
            by_pid = {int(prev.pids[r]): v for r, v in zip(rows, vecs)}
            known = {k: by_pid[p] for k, p in pid_of.items() if p in by_pid}
        offsets = prev.sentence_offsets()
        for source in retired:
            rows_pids = prev.store.query(
                "SELECT pid, data FROM passages WHERE source = ? AND gen_from <= ? AND (gen_to IS NULL OR gen_to > ?)",
                (source, prev.generation, prev.generation))
            if not rows_pids:
                continue
            rows = prev.rows(np.array([r[0] for r in rows_pids], dtype=np.int64))
            row_of = {int(prev.pids[r]): int(r) for r in rows}
            for pid, data in rows_pids:
                row = row_of.get(int(pid))
                if row is None:
                    continue
                parts = split_sentences(passage_from_json(data).text)
                if len(parts) == prev.sentence_counts[row]:
                    for j, part in enumerate(parts):
                        known_sentences.setdefault(text_key(part), np.asarray(prev.sentence_vectors[offsets[row] + j], dtype=np.float32))
    vectors, n_passages = _embed_texts([embedding_text(p) for p in passages], encoder, known)
    split = [split_sentences(p.text) for p in passages]
    for p, parts, vec in zip(passages, split, vectors):
        if len(parts) == 1 and parts[0] == embedding_text(p):
            known_sentences.setdefault(text_key(parts[0]), vec)
    flat = [part for parts in split for part in parts]
    sentence_vectors, n_sentences = _embed_texts(flat, encoder, known_sentences)
    counts = np.array([len(parts) for parts in split], dtype=np.int32)
    return vectors, sentence_vectors.astype(np.float16), counts, n_passages + n_sentences


def _embed_texts(texts: list[str], encoder: TextEncoder, known: dict[str, np.ndarray]) -> tuple[np.ndarray, int]:
    """Vectors for texts, taking those in `known` (text key -> vector) and encoding the rest once each."""
    keys = [text_key(t) for t in texts]
    vectors = np.zeros((len(texts), encoder.dimension), dtype=np.float32)
    todo: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        if key in known:
            vectors[i] = known[key]
        else:
            todo.setdefault(key, []).append(i)
    if todo:
        firsts = [rows[0] for rows in todo.values()]
        fresh = encoder.encode([texts[i] for i in firsts], progress=False)
        for vec, rows in zip(fresh, todo.values()):
            vectors[rows] = vec
        for key, vec in zip(todo, fresh):
            known[key] = vec
    return vectors, len(todo)


def _write_generation(path: Path, tmp: Path, scratch: Path, gen: int, prev: StoredIndex | None,
                      published: StoredIndex | None, encoder: TextEncoder, docs: Path, meta: dict, full: bool,
                      removed_files: list[str], file_rows: list[FileChange], new_pids: np.ndarray, vectors_new: np.ndarray,
                      new_counts: list[np.ndarray], new_docs: tuple[np.ndarray, np.ndarray], terms: "_Terms", analyzer) -> dict:
    """Write the generation's parts into `tmp`: kept rows of the previous generation, then the new rows."""
    dim = encoder.dimension
    retire = set(removed_files) | {c.source for c in file_rows}
    base = published if published is not None and not full else None
    if base is not None and retire:
        retired_pids = _visible_pids(base, sorted(retire))
    else:
        retired_pids = np.zeros(0, dtype=np.int64)
    if base is not None:
        keep_rows = np.nonzero(~np.isin(base.pids, retired_pids))[0]
    else:
        keep_rows = np.zeros(0, dtype=np.int64)
        retired_pids = np.asarray(published.pids if published is not None else [], dtype=np.int64)
    pids = np.concatenate([base.pids[keep_rows] if base is not None else np.zeros(0, dtype=np.int64), new_pids])
    n = len(pids)
    if n == 0:
        raise QaBotError(f"no readable documents in {docs}")
    parts: dict[str, dict] = {}
    out = _HashingFile(tmp / "pids.i64")
    out.write(pids.astype(np.int64))
    parts["pids.i64"] = out.close()
    counts_new = np.concatenate(new_counts) if new_counts else np.zeros(0, dtype=np.int32)
    kept_counts = np.asarray(base.sentence_counts[keep_rows], dtype=np.int32) if base is not None else np.zeros(0, np.int32)
    counts = np.concatenate([kept_counts, counts_new])
    out = _HashingFile(tmp / "scount.i32")
    out.write(counts.astype(np.int32))
    parts["scount.i32"] = out.close()
    sent_info, starts = _write_sentences(path, gen, scratch, base, keep_rows, kept_counts, counts_new, dim)
    out = _HashingFile(tmp / "sstart.i64")
    out.write(starts.astype(np.int64))
    parts["sstart.i64"] = out.close()
    n_sent = int(counts.sum())
    vectors_info = _write_vectors(path, gen, base, retired_pids, vectors_new, new_pids, pids)
    lex_info, df = _write_lexical(path, gen, base, retired_pids, new_pids, new_docs, pids, terms, analyzer)
    out = _HashingFile(tmp / "lex-df.i32")
    out.write(df.astype(np.int32))
    parts["lex-df.i32"] = out.close()
    (tmp / READER_LOCK).write_bytes(b"")
    fsync_dir(tmp)
    return {
        "format": FORMAT,
        "splitter": SPLITTER_VERSION,
        "model": encoder.name,
        "dimension": dim,
        "docs": str(docs.resolve()),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "passages": n,
        "sentences": n_sent,
        "sentence_store": sent_info,
        "vector_kind": vectors_info["kind"],
        "vectors": vectors_info,
        "lexical": lex_info,
        "parts": parts,
        **meta,
    }


def _segment_rows(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Every sentence row of the given passages (their starts and counts), in order."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    return np.repeat(np.asarray(starts, dtype=np.int64) - np.cumsum(counts) + counts, counts) + np.arange(total)


def _write_sentences(path: Path, gen: int, scratch: Path, base: StoredIndex | None, keep_rows: np.ndarray,
                     kept_counts: np.ndarray, counts_new: np.ndarray, dim: int) -> tuple[dict, np.ndarray]:
    """Sentence vectors: appended to the previous generation's file (readers map only their own prefix),
    or written afresh (first build, or once more than half the file belongs to removed passages).

    Returns the record ({file, rows, chunks: [{start, rows, sha256}]}) and each passage's first row.
    """
    folder = path / SENTENCES
    folder.mkdir(parents=True, exist_ok=True)
    new_file = scratch / "new-sentences.f16"
    n_new = new_file.stat().st_size // (2 * dim)
    prev = base.info.get("sentence_store") if base is not None else None
    kept_starts = np.asarray(base.sentence_offsets()[keep_rows], dtype=np.int64) if base is not None else np.zeros(0, np.int64)
    live = int(kept_counts.sum()) + n_new
    if prev is not None and prev["rows"] + n_new <= 2 * max(live, 1):
        file = folder / prev["file"]
        start = int(prev["rows"])
        digest = hashlib.sha256()
        with open(file, "r+b") as out, open(new_file, "rb") as src:
            out.truncate(start * 2 * dim)  # whatever a killed writer appended after the last commit
            out.seek(start * 2 * dim)
            for chunk in iter(lambda: src.read(1 << 24), b""):
                out.write(chunk)
                digest.update(chunk)
            out.flush()
            os.fsync(out.fileno())
        chunks = list(prev["chunks"]) + ([{"start": start, "rows": n_new, "sha256": digest.hexdigest()}] if n_new else [])
        new_starts = start + np.concatenate([[0], np.cumsum(counts_new)[:-1]]) if len(counts_new) else np.zeros(0, np.int64)
        record = {"file": prev["file"], "rows": start + n_new, "chunks": chunks}
    else:
        name = f"sentences-{gen}.f16"
        staging = folder / f".{name}.tmp"
        out = _HashingFile(staging)
        if base is not None and len(keep_rows):
            for at in range(0, len(keep_rows), 65536):
                rows = _segment_rows(kept_starts[at : at + 65536], kept_counts[at : at + 65536])
                out.write(np.asarray(base.sentence_vectors[rows], dtype=np.float16))
        with open(new_file, "rb") as src:
            for chunk in iter(lambda: src.read(1 << 24), b""):
                out.fh.write(chunk)
                out.digest.update(chunk)
                out.size += len(chunk)
        part = out.close()
        os.replace(staging, folder / name)
        total = part["size"] // (2 * dim)
        record = {"file": name, "rows": total, "chunks": [{"start": 0, "rows": total, "sha256": part["sha256"]}]}
        kept_starts = np.concatenate([[0], np.cumsum(kept_counts)[:-1]]).astype(np.int64) if len(kept_counts) else kept_starts[:0]
        first_new = int(kept_counts.sum())
        new_starts = first_new + np.concatenate([[0], np.cumsum(counts_new)[:-1]]) if len(counts_new) else np.zeros(0, np.int64)
    new_file.unlink()
    fsync_dir(folder)
    return record, np.concatenate([kept_starts, np.asarray(new_starts, dtype=np.int64)])


class _Terms:
    """The index's term vocabulary (SQLite, append-only): ids of known terms, new ids for new ones."""

    def __init__(self, store: Store):
        self.store = store
        self.known: dict[str, int] = {}
        self.new: dict[str, int] = {}
        self.size = int(store.query("SELECT COALESCE(MAX(tid), -1) + 1 FROM terms")[0][0])

    def ids(self, terms: list[str]) -> np.ndarray:
        missing = [t for t in set(terms) if t not in self.known]
        if missing:
            self.known.update(self.store.term_ids(missing))
            for t in missing:
                if t not in self.known:
                    self.known[t] = self.new[t] = self.size
                    self.size += 1
        known = self.known
        return np.fromiter((known[t] for t in terms), dtype=np.int32, count=len(terms))


def _write_lexical(path: Path, gen: int, base: StoredIndex | None, retired_pids: np.ndarray, new_pids: np.ndarray,
                   new_docs: tuple[np.ndarray, np.ndarray], pids: np.ndarray, terms: _Terms, analyzer) -> tuple[dict, np.ndarray]:
    """BM25 for the new generation: the previous segments, one new segment, corpus statistics updated.

    Removed passages are re-analysed (only they) to take them out of the document frequencies;
    small segments are merged from their postings once there are more than MAX_SEGMENTS.
    """
    from .lexical import Segment, passage_text

    n_terms = terms.size
    df = np.zeros(n_terms, dtype=np.int64)
    prev = base.info.get("lexical") if base is not None and base.lexical is not None else None
    if prev is not None:
        segments, infos = list(base.lexical.segments), list(prev["segments"])
        df[: len(base.lexical.df)] = base.lexical.df
        total = int(prev["total_length"])
        rows = base.rows(retired_pids)
        for start in range(0, len(rows), 4096):
            for p in base.passages.many(rows[start : start + 4096]):
                ids = terms.ids(analyzer.terms(passage_text(p)))
                total -= len(ids)
                np.subtract.at(df, np.unique(ids), 1)
    else:
        segments, infos, total = [], [], 0
    new = Segment.from_flat(new_pids, new_docs[0], new_docs[1], n_terms)
    total += int(new.lengths.sum())
    df += np.diff(new.indptr)  # postings per term = documents that contain it
    segments.append(new)
    infos.append(None)
    sizes = [len(seg.pids) for seg in segments]
    if len(segments) > 1 and sum(sizes) > 1.25 * len(pids) + 1000:  # many removed passages: one clean segment
        segments, infos = [Segment.merge(segments, pids, n_terms)], [None]
    elif len(segments) > MAX_SEGMENTS:  # merge the small ones (cost proportional to them)
        segments, infos = segments[:1] + [Segment.merge(segments[1:], pids, n_terms)], infos[:1] + [None]
    for k, (seg, info) in enumerate(zip(segments, infos)):
        if info is None:
            sid = f"{gen}-{k}"
            tmp = path / SEGMENTS / f".{sid}.tmp"
            parts = seg.write(tmp)
            os.replace(tmp, path / SEGMENTS / sid)
            infos[k] = {"id": sid, **seg.info(), "parts": parts}
    fsync_dir(path / SEGMENTS)
    return {"segments": infos, "terms": n_terms, "N": int(len(pids)), "total_length": int(total),
            "stopwords": sorted(analyzer.stopwords)}, df


def _visible_pids(stored: StoredIndex, sources: list[str]) -> np.ndarray:
    out = []
    for start in range(0, len(sources), 500):
        chunk = sources[start : start + 500]
        marks = ",".join("?" * len(chunk))
        out += [int(pid) for (pid,) in stored.store.query(
            f"SELECT pid FROM passages WHERE source IN ({marks}) AND gen_from <= ? AND (gen_to IS NULL OR gen_to > ?)",
            [*chunk, stored.generation, stored.generation])]
    return np.array(sorted(out), dtype=np.int64)
