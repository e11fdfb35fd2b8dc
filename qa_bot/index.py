"""The index on disk: a FAISS inner-product index beside a JSON manifest of passages.

Only changed text is embedded again (passages are keyed by a content hash), writes are
atomic (temporary name, then rename), and nothing loaded from disk can execute code.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from .documents import Passage, iter_files, scan_folder, source_name, split_document, split_sentences
from .errors import QaBotError

log = logging.getLogger(__name__)

FORMAT = 1
MANIFEST = "manifest.json"
SPLITTER_VERSION = 4


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


@dataclass
class StoredIndex:
    """A loaded index: passages in row order, their vectors in a FAISS index, and file state."""

    path: Path
    model: str
    dimension: int
    docs: str
    files: dict[str, dict]
    passages: list[Passage]
    vectors: object  # faiss.Index
    vector_file: str = ""
    extra: dict = field(default_factory=dict)
    sentence_vectors: np.ndarray | None = None  # float16, one row per sentence, passages in order
    sentence_counts: np.ndarray | None = None  # sentences per passage
    lexical: object | None = None  # lexical.Lexical: BM25 over the same passages

    def sentence_offsets(self) -> np.ndarray:
        """Row of each passage's first sentence in `sentence_vectors` (length n + 1)."""
        if self._offsets is None:
            self._offsets = np.concatenate([[0], np.cumsum(self.sentence_counts)]).astype(np.int64)
        return self._offsets

    _offsets: np.ndarray | None = field(default=None, init=False, repr=False)

    def __len__(self) -> int:
        return len(self.passages)

    def all_vectors(self) -> np.ndarray:
        n = self.vectors.ntotal
        if n == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self.vectors.reconstruct_n(0, n)

    def skipped(self) -> dict[str, str]:
        """Files of the docs folder left out of the index -> why (recorded at indexing)."""
        return {s: e["skipped"] for s, e in self.files.items() if e.get("skipped")}

    def sources(self) -> dict[str, int]:
        """Document path -> number of paragraphs, in index order."""
        counts: dict[str, set[int]] = {}
        for p in self.passages:
            counts.setdefault(p.source, set()).add(p.paragraph)
        return {s: len(v) for s, v in counts.items()}


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


# --------------------------------------------------------------------------- loading


def _corrupt(path: Path, what: str) -> QaBotError:
    return QaBotError(f"index at {path} is unreadable ({what}); rebuild it with: qa-bot index --index {path}")


def _part(path: Path, name) -> Path:
    """A file the manifest names: a plain name inside the index folder, present on disk."""
    name = str(name)
    if Path(name).name != name or not (path / name).is_file():
        raise _corrupt(path, f"{name} is missing")
    return path / name


def load(path: Path) -> StoredIndex | None:
    """The index stored in `path`, or None when there is none; QaBotError when it is damaged."""
    if path.exists() and not path.is_dir():
        raise QaBotError(f"index path {path} is not a folder; pass --index DIR (or set QA_BOT_INDEX)")
    manifest_path = path / MANIFEST
    if not manifest_path.exists():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _corrupt(path, f"{MANIFEST}: {type(exc).__name__}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _corrupt(path, f"{MANIFEST} has an unknown format")
    try:
        passages = [Passage(**rec) for rec in manifest["passages"]]
        vector_file = manifest["vector_file"]
        dimension = int(manifest["dimension"])
        model = str(manifest["model"])
    except (KeyError, TypeError, ValueError):
        raise _corrupt(path, f"{MANIFEST} is missing fields") from None
    import faiss

    try:
        vectors = faiss.read_index(str(_part(path, vector_file)))
        tune_vector_index(vectors)
    except QaBotError:
        raise
    except Exception:
        raise _corrupt(path, f"{vector_file} is truncated or corrupt") from None
    if vectors.ntotal != len(passages) or vectors.d != dimension:
        raise _corrupt(path, f"{vector_file} holds {vectors.ntotal} vectors for {len(passages)} passages")
    sentence_vectors = counts = None
    sentence_file = manifest.get("sentence_file")
    if sentence_file:
        spath = _part(path, sentence_file)
        try:
            sentence_vectors = np.load(spath, mmap_mode="r", allow_pickle=False)
            counts = np.asarray(manifest["sentence_counts"], dtype=np.int64)
        except (OSError, ValueError, KeyError, TypeError):
            raise _corrupt(path, f"{sentence_file} is truncated or corrupt") from None
        if counts.shape != (len(passages),) or sentence_vectors.shape != (int(counts.sum()), dimension):
            raise _corrupt(path, f"{sentence_file} does not match the passages")
    lexical = None
    lexical_file = manifest.get("lexical_file")
    if lexical_file:
        from .lexical import Lexical

        lpath = _part(path, lexical_file)
        try:
            with np.load(lpath, allow_pickle=False) as arrays:
                data, indices, indptr = arrays["data"], arrays["indices"], arrays["indptr"]
            meta = json.loads(lpath.with_suffix(".json").read_text(encoding="utf-8"))
            lexical = Lexical(data, indices, indptr, meta["vocab"], meta["stopwords"], int(meta["size"]))
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile):
            raise _corrupt(path, f"{lexical_file} is truncated or corrupt") from None
        if lexical.size != len(passages) or len(indptr) not in (len(meta["vocab"]), len(meta["vocab"]) + 1):
            raise _corrupt(path, f"{lexical_file} does not match the passages")
    return StoredIndex(
        path=path,
        model=model,
        dimension=dimension,
        docs=str(manifest.get("docs", "")),
        files=dict(manifest.get("files", {})),
        passages=passages,
        vectors=vectors,
        vector_file=vector_file,
        extra={"splitter": manifest.get("splitter"), "created": manifest.get("created"),
               "backend": manifest.get("backend", "torch"), "onnx": manifest.get("onnx")},
        sentence_vectors=sentence_vectors,
        sentence_counts=counts,
        lexical=lexical,
    )


# --------------------------------------------------------------------------- staleness


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def is_stale(stored: StoredIndex, docs: Path, follow_links: bool = False) -> bool:
    """True when files were added, removed or modified since the index was built.

    Size and mtime are compared first; a file whose stat changed is hashed to be sure.
    """
    if stored.extra.get("splitter") != SPLITTER_VERSION:
        return True
    if str(docs.resolve()) != stored.docs:
        return True
    current = {source_name(p, docs): p for p in iter_files(docs, follow_links)}
    if set(current) != set(stored.files):
        return True
    for source, path in current.items():
        entry = stored.files[source]
        try:
            size, mtime = _stat(path)
        except OSError:
            return True
        if (size, mtime) == (entry.get("size"), entry.get("mtime_ns")):
            continue
        if hashlib.sha256(path.read_bytes()).hexdigest() != entry.get("sha256"):
            return True
    return False


# --------------------------------------------------------------------------- building


def check_docs(docs: Path) -> None:
    if not docs.exists():
        raise QaBotError(f"docs folder {docs} does not exist; pass --docs DIR or set QA_BOT_DOCS")
    if not docs.is_dir():
        raise QaBotError(f"{docs} is not a folder; pass a folder of documents with --docs DIR")
    if next(iter_files(docs), None) is None:
        raise QaBotError(f"docs folder {docs} has no .txt, .md, .pdf, .html or .docx files; add some or pass --docs DIR")


def _note_skipped(files: dict[str, dict], skipped, docs: Path, follow_links: bool) -> None:
    """Record skipped files of a readable format (a scan, an encrypted PDF) with their reason, so
    the index is not stale because of them and front ends can list them."""
    readable = {source_name(p, docs): p for p in iter_files(docs, follow_links)}
    for s in skipped:
        path = readable.get(s.source)
        if path is None or s.source in files:
            continue
        try:
            size, mtime = _stat(path)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            continue
        files[s.source] = {"sha256": digest, "size": size, "mtime_ns": mtime, "passages": 0, "skipped": s.reason}


def update(
    path: Path,
    docs: Path,
    encoder: TextEncoder,
    previous: StoredIndex | None = None,
    progress: bool = False,
    meta: dict | None = None,
    follow_links: bool = False,
) -> tuple[StoredIndex, UpdateReport]:
    """Bring the index at `path` in line with `docs`, embedding only text not embedded before.

    A different model (or embedding backend, in `meta`) in `previous` means nothing can be
    reused: everything is embedded again. `meta` is stored in the manifest as it is.
    """
    meta = dict(meta or {})
    check_docs(docs)
    folder = scan_folder(docs, follow_links)
    if folder.skipped:
        log.warning("%s", folder.summary())
    documents = folder.documents
    if not documents:
        raise QaBotError(f"no readable documents in {docs}")
    rebuilt = (
        previous is None
        or previous.model != encoder.name
        or previous.dimension != encoder.dimension
        or previous.extra.get("backend", "torch") != meta.get("backend", "torch")
    )
    passages: list[Passage] = []
    files: dict[str, dict] = {}
    changed: list[str] = []
    for doc in documents:
        doc_passages = split_document(doc, encoder.max_tokens, encoder.count_tokens)
        size, mtime = _stat(doc.path or docs / doc.source)
        files[doc.source] = {"sha256": doc.sha256, "size": size, "mtime_ns": mtime, "passages": len(doc_passages)}
        old = previous.files.get(doc.source) if previous else None
        if old is None or old.get("sha256") != doc.sha256:
            changed.append(doc.source)
        passages.extend(doc_passages)
    _note_skipped(files, folder.skipped, docs, follow_links)

    vectors, sentences, counts, embedded = embed_with_reuse(passages, encoder, None if rebuilt else previous, progress)
    removed = sorted(set(previous.files) - set(files)) if previous else []
    stored = write(path, encoder.name, encoder.dimension, docs, files, passages, vectors, sentences, counts, meta)
    report = UpdateReport(
        files=len(documents),
        passages=len(passages),
        embedded=embedded,
        reused=max(len(passages) + int(counts.sum()) - embedded, 0),
        removed_files=removed,
        changed_files=changed,
        rebuilt=rebuilt,
    )
    return stored, report


def _embed_texts(texts: list[str], encoder: TextEncoder, known: dict[str, np.ndarray], progress: bool, desc: str) -> tuple[np.ndarray, int]:
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
        fresh = encoder.encode([texts[i] for i in firsts], progress=progress, desc=desc)
        for vec, rows in zip(fresh, todo.values()):
            vectors[rows] = vec
    return vectors, len(todo)


def embed_with_reuse(
    passages: list[Passage], encoder: TextEncoder, previous: StoredIndex | None, progress: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Passage and sentence vectors, copying what `previous` already embedded.

    Returns (passage vectors, sentence vectors as float16, sentences per passage, texts embedded).
    A one-sentence passage's sentence vector is its passage vector, never encoded twice.
    """
    known: dict[str, np.ndarray] = {}
    known_sentences: dict[str, np.ndarray] = {}
    if previous is not None and previous.model == encoder.name and previous.dimension == encoder.dimension:
        old = previous.all_vectors()
        for row, p in enumerate(previous.passages):
            known.setdefault(text_key(embedding_text(p)), old[row])
        if previous.sentence_vectors is not None:
            offsets = previous.sentence_offsets()
            for row, p in enumerate(previous.passages):
                parts = split_sentences(p.text)
                if len(parts) == previous.sentence_counts[row]:
                    for j, part in enumerate(parts):
                        known_sentences.setdefault(text_key(part), previous.sentence_vectors[offsets[row] + j])
    vectors, n_passages = _embed_texts([embedding_text(p) for p in passages], encoder, known, progress, "passages")
    split = [split_sentences(p.text) for p in passages]
    for p, parts, vec in zip(passages, split, vectors):
        if len(parts) == 1 and parts[0] == embedding_text(p):
            known_sentences.setdefault(text_key(parts[0]), vec)
    flat = [part for parts in split for part in parts]
    sentence_vectors, n_sentences = _embed_texts(flat, encoder, known_sentences, progress, "sentences")
    counts = np.array([len(parts) for parts in split], dtype=np.int64)
    return vectors, sentence_vectors.astype(np.float16), counts, n_passages + n_sentences


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
        ivf.make_direct_map()  # rows can be read back (fusion, incremental updates)
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = 128


def build_vector_index(vectors: np.ndarray, kind: str | None = None):
    """Inner-product search over normalised vectors (cosine similarity): exact, IVF or HNSW."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = vectors.shape
    kind = kind or vector_index_kind(n)
    if kind == "ivf":
        nlist = int(min(max(4 * np.sqrt(n), 64), 65536))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        sample = vectors[np.random.default_rng(0).choice(n, min(n, nlist * 64), replace=False)]
        index.train(sample)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
    else:
        index = faiss.IndexFlatIP(d)
    if n:
        index.add(vectors)
    tune_vector_index(index)
    return index


def _atomic_write_bytes(target: Path, data: bytes) -> None:
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write(
    path: Path,
    model: str,
    dimension: int,
    docs: Path,
    files: dict[str, dict],
    passages: list[Passage],
    vectors: np.ndarray,
    sentence_vectors: np.ndarray,
    sentence_counts: np.ndarray,
    meta: dict | None = None,
) -> StoredIndex:
    """Write vectors under a fresh name, then swap the manifest in: the rename is the commit.

    A run killed at any point leaves the previous manifest pointing at its own, intact vectors.
    """
    import faiss

    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise QaBotError(f"cannot create index folder {path}: {exc.strerror or exc}") from None
    index = build_vector_index(vectors)
    generation = uuid.uuid4().hex[:12]
    vector_file = f"vectors-{generation}.faiss"
    sentence_file = f"sentences-{generation}.npy"
    data = faiss.serialize_index(index).tobytes()
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(sentence_vectors, dtype=np.float16), allow_pickle=False)
    from .lexical import Lexical, passage_text

    lexical = Lexical.build([passage_text(p) for p in passages]) if passages else None
    lexical_file = f"lexical-{generation}.npz"
    lexical_buffer = io.BytesIO()
    if lexical is not None:
        np.savez(lexical_buffer, **lexical.arrays())
    manifest = {
        "format": FORMAT,
        "splitter": SPLITTER_VERSION,
        "model": model,
        "dimension": dimension,
        "docs": str(docs.resolve()),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "vector_file": vector_file,
        "sentence_file": sentence_file,
        "lexical_file": lexical_file if lexical is not None else None,
        "sentence_counts": [int(c) for c in sentence_counts],
        **(meta or {}),
        "files": files,
        "passages": [p.to_dict() for p in passages],
    }
    try:
        _atomic_write_bytes(path / vector_file, data)
        _atomic_write_bytes(path / sentence_file, buffer.getvalue())
        if lexical is not None:
            _atomic_write_bytes(path / lexical_file, lexical_buffer.getvalue())
            _atomic_write_bytes(path / lexical_file.replace(".npz", ".json"), json.dumps(lexical.meta()).encode())
        _atomic_write_bytes(path / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1).encode())
    except OSError as exc:
        for new in (vector_file, sentence_file, lexical_file, lexical_file.replace(".npz", ".json")):
            # the old manifest still names the old files
            (path / new).unlink(missing_ok=True)
        raise QaBotError(f"cannot write index to {path}: {exc.strerror or exc}") from None
    keep = (vector_file, sentence_file, lexical_file, lexical_file.replace(".npz", ".json"))
    for old in [*path.glob("vectors-*.faiss"), *path.glob("sentences-*.npy"), *path.glob("lexical-*.np[z]"), *path.glob("lexical-*.json")]:
        if old.name not in keep:
            old.unlink(missing_ok=True)
    return StoredIndex(
        path=path,
        model=model,
        dimension=dimension,
        docs=str(docs.resolve()),
        files=files,
        passages=passages,
        vectors=index,
        vector_file=vector_file,
        extra={"splitter": SPLITTER_VERSION, "created": manifest["created"], **(meta or {})},
        sentence_vectors=np.ascontiguousarray(sentence_vectors, dtype=np.float16),
        sentence_counts=np.asarray(sentence_counts, dtype=np.int64),
        lexical=lexical,
    )
