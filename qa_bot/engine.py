"""Glue for every front end: settings in, a ready Retriever out (index built or refreshed as needed).

Storage lives in index.py and encoders in encoders.py; this module decides when to build,
refuses what would lose data, and switches long-running front ends to newer generations.
"""

from __future__ import annotations

import gc
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from . import index as index_mod
from .config import DEFAULT_BACKEND, Settings
from .documents.fingerprint import UNKNOWN
from .encoders import BACKENDS, embedder_for, map_export, onnx_encoder, query_encoder  # noqa: F401  (front ends use these)
from .encoders import _export_elsewhere  # noqa: F401  (tests)
from .errors import QaBotError

log = logging.getLogger(__name__)


def _check_model(stored: index_mod.StoredIndex, settings: Settings) -> None:
    if stored.model != settings.model:
        raise QaBotError(
            f"index at {settings.index} was built with model {stored.model!r}, not {settings.model!r}; "
            f"rebuild it with: {index_mod.hint(settings.index, settings.docs)} --model {settings.model} --rebuild"
        )


def _check_docs(stored: index_mod.StoredIndex, settings: Settings) -> None:
    """An index belongs to one docs folder: another one is refused instead of silently replacing it."""
    docs = str(settings.docs.resolve())
    if stored.docs and stored.docs != docs:
        raise QaBotError(
            f"index at {settings.index} holds the documents of {stored.docs}, not {docs}; to replace them, run: "
            f"{index_mod.hint(settings.index, settings.docs)} --rebuild (or choose another --index)"
        )


def _load(settings: Settings, notify: Callable[[str], None] | None = None):
    """(stored index or None, whether it must be rebuilt): an old-format index is rebuilt with one line."""
    try:
        return index_mod.load(settings.index, settings.docs), False
    except index_mod.OldFormat:
        (notify or log.warning)(f"index at {settings.index} is in an older format; rebuilding it")
        return None, True


def build(settings: Settings, progress: bool = True, encoder=None, backend: str | None = None, rebuild: bool = False,
          notify: Callable[[str], None] | None = None):
    """`qa-bot index`: bring the index up to date (only what changed), rebuilding it when damaged or when asked.

    Returns (StoredIndex, UpdateReport). `encoder` overrides the model used for embedding (tests).
    """
    index_mod.check_docs(settings.docs, settings.follow_links)
    try:
        previous, old = _load(settings, (lambda _: None) if rebuild else notify)  # said once, by the caller
        rebuild = rebuild or old
    except QaBotError as exc:
        log.warning("%s; building a new one", str(exc).split("; rebuild it with")[0])
        previous, rebuild = None, True
    if previous is not None and not rebuild:
        _check_docs(previous, settings)
    # An explicit choice wins; otherwise an index keeps the backend it was built with.
    backend = backend or settings.backend or (previous.extra.get("backend") if previous else None) or DEFAULT_BACKEND
    embedder, meta = embedder_for(settings, settings.index, backend, previous, encoder)
    stored, report = index_mod.update(settings.index, settings.docs, embedder, progress=progress, meta=meta,
                                      rebuild=rebuild, notify=notify, follow_links=settings.follow_links)
    map_export(stored, settings)
    return stored, report


def open_retriever(settings: Settings, progress: bool = True, notify: Callable[[str], None] | None = None,
                   preload=None):
    """Load the index (building or refreshing it when missing or stale) and return a Retriever.

    `preload` (preload.Preload, started before the heavy imports) may hold the question encoder already.
    """
    try:
        return _open(settings, progress, notify, preload)
    finally:
        if preload is not None:
            preload.release()


def settle() -> None:
    """For a long-running front end, once an index is open (and after each switch to a new one): collect
    what opening left, then freeze the rest, which lives as long as the index, so that no collection
    walks it mid-question again (160-280 ms, once or twice per 190 questions at 1M). Unfreezing first
    lets the objects of an index dropped since, and SQLite connections held in cycles, be collected:
    call it once the previous retriever is no longer referenced."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _open(settings: Settings, progress: bool, notify: Callable[[str], None] | None, preload):
    from .search import Retriever

    stored, old = _load(settings, notify)  # raises on a damaged index: never overwrite it silently
    if stored is not None:
        _check_model(stored, settings)
        _check_docs(stored, settings)
    with ThreadPoolExecutor(1) as pool:
        # The ONNX session loads in C++ without the GIL: check the folder for changes meanwhile.
        encoder = pool.submit(query_encoder, stored, settings, preload) if stored is not None else None
        ahead = preload.digest(settings.docs) if preload is not None and stored is not None else UNKNOWN
        if stored is None or (settings.docs.exists()
                              and index_mod.is_stale(stored, settings.docs, settings.follow_links, ahead)):
            index_mod.check_docs(settings.docs, settings.follow_links)
            if notify:
                notify("building the index of %s ..." % settings.docs if stored is None else "documents changed; updating the index ...")
            record = stored.extra.get("onnx") if stored is not None else None
            stored, _ = build(settings, progress=progress, rebuild=old, notify=notify)
            if encoder is None or stored.extra.get("onnx") != record:
                encoder = pool.submit(query_encoder, stored, settings, preload)
        elif not settings.docs.exists():
            log.warning("docs folder %s not found; answering from the index as built", settings.docs)
        retriever = Retriever(stored, None, mode=settings.mode, threshold=settings.threshold)
        if settings.mode != "dense":
            retriever.lexical
        retriever.encoder = encoder.result()
    return retriever


def refreshed(retriever):
    """The same retriever, or a new one on the newest published generation when there is one.

    Long-running front ends call this between questions (never mid-answer): it costs one small
    SQLite query when nothing changed. Answers in flight keep the retriever they started with.
    """
    index = retriever.index
    if not hasattr(index, "newer") or not index.newer():
        return retriever
    try:
        stored = index_mod.load(index.path)
    except QaBotError as exc:
        log.warning("keeping the index already loaded: %s", exc)
        return retriever
    if stored is None or stored.model != index.model:
        return retriever
    from .search import Retriever

    fresh = Retriever(stored, retriever.encoder, mode=retriever.mode, threshold=retriever.threshold, alpha=retriever.alpha)
    fresh.use_verdict_model = retriever.use_verdict_model
    if retriever.mode != "dense":
        fresh.lexical
    log.info("switched to index generation %d (%d passages)", stored.generation, len(stored))
    return fresh
