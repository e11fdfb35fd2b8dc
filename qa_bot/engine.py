"""Glue for every front end: settings in, a ready Retriever out (index built or refreshed as needed)."""

from __future__ import annotations

import logging
from typing import Callable

from . import index as index_mod
from .config import Settings
from .errors import QaBotError

log = logging.getLogger(__name__)


def _check_model(stored: index_mod.StoredIndex, settings: Settings) -> None:
    if stored.model != settings.model:
        raise QaBotError(
            f"index at {settings.index} was built with model {stored.model!r}, not {settings.model!r}; "
            f"rebuild it with: qa-bot index --index {settings.index}"
        )


def build(settings: Settings, progress: bool = True, encoder=None) -> tuple[index_mod.StoredIndex, index_mod.UpdateReport]:
    """`qa-bot index`: bring the index up to date, rebuilding from scratch if it is damaged or from another model."""
    index_mod.check_docs(settings.docs)
    try:
        previous = index_mod.load(settings.index)
    except QaBotError as exc:
        log.warning("%s; building a new one", exc)
        previous = None
    if encoder is None:
        from .embed import load_encoder

        encoder = load_encoder(settings.model)
    return index_mod.update(settings.index, settings.docs, encoder, previous, progress=progress)


def open_retriever(settings: Settings, progress: bool = True, notify: Callable[[str], None] | None = None):
    """Load the index (building or refreshing it when missing or stale) and return a Retriever."""
    from .embed import load_encoder
    from .search import Retriever

    stored = index_mod.load(settings.index)  # raises on a damaged index: never overwrite it silently
    if stored is not None:
        _check_model(stored, settings)
    if stored is None or (settings.docs.exists() and index_mod.is_stale(stored, settings.docs)):
        index_mod.check_docs(settings.docs)
        if notify:
            notify("building the index of %s ..." % settings.docs if stored is None else "documents changed; updating the index ...")
        encoder = load_encoder(settings.model)
        stored, _ = index_mod.update(settings.index, settings.docs, encoder, stored, progress=progress)
    else:
        if not settings.docs.exists():
            log.warning("docs folder %s not found; answering from the index as built", settings.docs)
        encoder = load_encoder(settings.model)
    return Retriever(stored, encoder, mode=settings.mode, threshold=settings.threshold)
