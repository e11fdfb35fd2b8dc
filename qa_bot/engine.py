"""Glue for every front end: settings in, a ready Retriever out (index built or refreshed as needed).

Building needs the torch model (and exports it to ONNX beside the index once); answering
questions from a built index loads only the ONNX export, so the query path never imports torch.
"""

from __future__ import annotations

import logging
from typing import Callable

from . import index as index_mod
from .config import DEFAULT_BACKEND, Settings
from .errors import QaBotError, first_line

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx", "onnx-int8")


def _check_model(stored: index_mod.StoredIndex, settings: Settings) -> None:
    if stored.model != settings.model:
        raise QaBotError(
            f"index at {settings.index} was built with model {stored.model!r}, not {settings.model!r}; "
            f"rebuild it with: qa-bot index --index {settings.index}"
        )


def _onnx_record(stored: index_mod.StoredIndex | None, settings: Settings, backend: str) -> dict | None:
    """The ONNX export recorded in `stored`, if it is for this model and backend and still on disk."""
    if stored is None or stored.model != settings.model:
        return None
    record = stored.extra.get("onnx")
    if not isinstance(record, dict) or bool(record.get("quantized")) != (backend == "onnx-int8"):
        return None
    try:
        model_file = stored.path / record["file"]
        ok = model_file.stat().st_size == record["size"] and (stored.path / record["tokenizer"]).is_file()
    except (OSError, KeyError, TypeError):
        return None
    return record if ok else None


def onnx_encoder(model: str, index_path, record: dict, workers: int = 1):
    from .embed import OnnxEncoder

    return OnnxEncoder(model, index_path / record["file"], index_path / record["tokenizer"],
                       int(record.get("max_seq_length", 256)), workers=workers)


def build(settings: Settings, progress: bool = True, encoder=None, backend: str | None = None):
    """`qa-bot index`: bring the index up to date, rebuilding from scratch if it is damaged or from another model.

    Returns (StoredIndex, UpdateReport). `encoder` overrides the model used for embedding (tests).
    """
    index_mod.check_docs(settings.docs)
    try:
        previous = index_mod.load(settings.index)
    except QaBotError as exc:
        log.warning("%s; building a new one", exc)
        previous = None
    # An explicit choice wins; otherwise an index keeps the backend it was built with.
    backend = backend or settings.backend or (previous.extra.get("backend") if previous else None) or DEFAULT_BACKEND
    embedder, meta = embedder_for(settings, settings.index, backend, previous, encoder)
    stored, report = index_mod.update(settings.index, settings.docs, embedder, previous, progress=progress, meta=meta,
                                      follow_links=settings.follow_links)
    from . import multilingual

    multilingual.after_index(stored)  # e5 vectors for Russian and Korean questions, when the extra is on
    return stored, report


def _export_cache(settings: Settings, quantize: bool):
    """Per-user cache of ONNX exports, keyed by model files: later indexes skip torch entirely."""
    import hashlib
    import os
    from pathlib import Path

    from .embed import resolve_model

    model = Path(resolve_model(settings.model))
    if not model.is_dir():
        return None
    stamp = [settings.model, str(model.resolve()), str(quantize), "export-3"]
    for f in sorted(model.glob("*")):
        if f.is_file():
            st = f.stat()
            stamp.append(f"{f.name}:{st.st_size}:{st.st_mtime_ns}")
    key = hashlib.sha256("|".join(stamp).encode()).hexdigest()[:20]
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qa-bot" / "onnx"
    return root / key


def _copy_export(source, target) -> bool:
    """Copy (hard-link where possible) an export folder's files; False when any is missing."""
    import os
    import shutil

    files = [f for f in source.iterdir() if f.is_file()] if source.is_dir() else []
    if not any(f.suffix == ".onnx" for f in files) or not (source / "record.json").is_file():
        return False
    target.mkdir(parents=True, exist_ok=True)
    for f in files:
        tmp = target / f".{f.name}.tmp"
        try:
            os.link(f, tmp)
        except OSError:
            shutil.copyfile(f, tmp)
        os.replace(tmp, target / f.name)
    return True


def _export_elsewhere(model_dir, target, quantize: bool) -> dict | None:
    """Run the ONNX export in a child process: torch's import, threads and memory stay there."""
    import json
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "qa_bot.export", str(model_dir), str(target), *(["--int8"] if quantize else [])]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as exc:
        raise QaBotError(f"cannot start the ONNX export: {exc}") from None
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    if done.returncode != 0:
        raise QaBotError(f"ONNX export of {model_dir} failed: {lines[-1] if lines else f'exit {done.returncode}'}")
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise QaBotError(f"ONNX export of {model_dir} printed no record") from None


def _onnx_export(settings: Settings, index_path, quantize: bool, torch_encoder=None) -> dict | None:
    """An ONNX export in `index_path/onnx`: from the per-user cache when there, else made now.

    BERT-family models are written from their weights here, without torch. Others need
    torch.onnx.export: here when torch is loaded anyway (`--backend torch`, tests), else in a
    child process, so an ONNX build never holds torch.
    """
    import json
    import os
    from pathlib import Path

    from . import bert_onnx
    from .embed import resolve_model
    from .export import ONNX_DIR, export_onnx

    cache = None
    try:
        cache = _export_cache(settings, quantize)
        if cache is not None and _copy_export(cache, index_path / ONNX_DIR):
            return json.loads((cache / "record.json").read_text())
    except (OSError, ValueError, QaBotError):
        pass
    model_dir = Path(getattr(torch_encoder, "path", None) or resolve_model(settings.model))
    if not model_dir.is_dir():
        record = None
    elif torch_encoder is not None or bert_onnx.supported(model_dir):
        try:
            record = export_onnx(model_dir, index_path / ONNX_DIR, quantize=quantize)
        except Exception as exc:  # damaged weights or config: one line, the index left as it was
            raise QaBotError(f"cannot export model {model_dir} to ONNX: {first_line(exc)}") from None
    else:
        record = _export_elsewhere(model_dir, index_path / ONNX_DIR, quantize)
    if record is not None and cache is not None:
        try:
            import shutil

            staging = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
            staging.mkdir(parents=True, exist_ok=True)
            for name in (record["file"], record["tokenizer"]):
                shutil.copyfile(index_path / name, staging / Path(name).name)
            (staging / "record.json").write_text(json.dumps(record))
            if cache.exists():
                shutil.rmtree(staging)
            else:
                staging.replace(cache)  # the rename publishes a complete entry
        except OSError:
            pass
    return record


def embedder_for(settings: Settings, index_path, backend: str, previous=None, encoder=None):
    """The encoder that embeds passages for `backend`, and the manifest fields that record it.

    The ONNX export (beside the index, answering questions without torch) comes from the
    per-user cache when it can; torch is loaded here only for --backend torch.
    """
    if backend not in BACKENDS:
        raise QaBotError(f"unknown backend {backend!r}; choose torch, onnx or onnx-int8")
    if encoder is None and backend == "torch":
        from .embed import load_encoder

        encoder = load_encoder(settings.model)
    record = _onnx_record(previous, settings, backend) or _onnx_export(settings, index_path, backend == "onnx-int8", encoder)
    if backend == "torch":
        return encoder, {"backend": backend, "onnx": record}
    if record is None:
        raise QaBotError(f"model {settings.model!r} cannot be exported to ONNX; use --backend torch")
    from .embed import usable_cores

    return onnx_encoder(settings.model, index_path, record, workers=usable_cores()), {"backend": backend, "onnx": record}


def query_encoder(stored: index_mod.StoredIndex, settings: Settings):
    """The ONNX export recorded with the index when present (fast, no torch), else the torch model."""
    record = _onnx_record(stored, settings, stored.extra.get("backend", "torch"))
    if record is not None:
        try:
            return onnx_encoder(stored.model, stored.path, record)
        except QaBotError as exc:
            log.warning("%s; using the torch model", exc)
    from .embed import load_encoder

    return load_encoder(settings.model)


def open_retriever(settings: Settings, progress: bool = True, notify: Callable[[str], None] | None = None):
    """Load the index (building or refreshing it when missing or stale) and return a Retriever."""
    from .search import Retriever

    stored = index_mod.load(settings.index)  # raises on a damaged index: never overwrite it silently
    if stored is not None:
        _check_model(stored, settings)
    if stored is None or (settings.docs.exists() and index_mod.is_stale(stored, settings.docs, settings.follow_links)):
        index_mod.check_docs(settings.docs)
        if notify:
            notify("building the index of %s ..." % settings.docs if stored is None else "documents changed; updating the index ...")
        stored, _ = build(settings, progress=progress)
    elif not settings.docs.exists():
        log.warning("docs folder %s not found; answering from the index as built", settings.docs)
    from concurrent.futures import ThreadPoolExecutor

    # The ONNX session loads in C++ without the GIL: build the BM25 index meanwhile.
    with ThreadPoolExecutor(1) as pool:
        encoder = pool.submit(query_encoder, stored, settings)
        retriever = Retriever(stored, None, mode=settings.mode, threshold=settings.threshold)
        if settings.mode != "dense":
            retriever.lexical
        retriever.encoder = encoder.result()
    return retriever
