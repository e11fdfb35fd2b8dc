"""Encoders: "an encoder for model M, backend B", with model resolution, ONNX export and its cache.

Indexing gets the backend it asks for (torch, onnx, onnx-int8); questions get the ONNX export
recorded with the index (no torch). Exports are made once per model and kept in a per-user
cache (`~/.cache/qa-bot/onnx`), so later indexes never load torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from . import index as index_mod
from .config import Settings
from .errors import QaBotError, first_line

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx", "onnx-int8")


def _hf_cache_dirs() -> list[Path]:
    env = os.environ
    roots = [env.get("HF_HUB_CACHE"), env.get("HUGGINGFACE_HUB_CACHE"),
             str(Path(env["HF_HOME"]) / "hub") if env.get("HF_HOME") else None,
             str(Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface" / "hub"),
             env.get("SENTENCE_TRANSFORMERS_HOME")]
    return [Path(r) for r in roots if r]


def model_exists(name: str) -> bool:
    """True when `name` is a local folder, the bundled model, or already in the Hugging Face cache."""
    from .embed import resolve_model

    resolved = Path(resolve_model(name))
    if resolved.is_dir():
        return True
    repo = name if "/" in name else f"sentence-transformers/{name}"
    folder = "models--" + repo.replace("/", "--")
    return any((root / folder).is_dir() or (root / repo.replace("/", "_")).is_dir() for root in _hf_cache_dirs())


def check_model(name: str) -> None:
    if not model_exists(name):
        raise QaBotError(f"no such model {name!r} (offline; models are never downloaded): pass a local model folder "
                         "or a sentence-transformers name already in the Hugging Face cache")


def _onnx_record(stored, settings: Settings, backend: str) -> dict | None:
    """The ONNX export recorded in `stored`, if it is for this model and backend and still on disk."""
    if stored is None or stored.model != settings.model:
        return None
    record = stored.extra.get("onnx")
    if not isinstance(record, dict) or bool(record.get("quantized")) != (backend == "onnx-int8"):
        return None
    if export_on_disk(stored.path, record):
        return record
    if any(index_mod.onnx_path(stored.path, record.get(key)) is None for key in ("file", "tokenizer")):
        log.warning("the ONNX model recorded in %s is missing or outside the index folder; it will be exported again", stored.path)
    return None


def export_on_disk(index_path, record: dict) -> bool:
    """True when the model and tokenizer files `record` names are inside the index folder, the model of the recorded size."""
    model_file = index_mod.onnx_path(index_path, record.get("file"))
    if model_file is None or index_mod.onnx_path(index_path, record.get("tokenizer")) is None:
        return False
    try:
        return model_file.stat().st_size == record["size"]
    except (OSError, KeyError, TypeError):
        return False


def _note_record(index_path, record: dict) -> None:
    """Keep `onnx/record.json` the index's own record, so the next process preloads the right export
    (an index from before it was written, or one whose later export was not the one published)."""
    note = Path(index_path) / "onnx" / "record.json"
    try:
        if json.loads(note.read_text(encoding="utf-8")) == record:
            return
    except (OSError, ValueError):
        pass  # missing, unreadable or not JSON: written again below
    from .export import write_record

    with contextlib.suppress(OSError):  # a read-only index folder, or something in the way: no preload, nothing else lost
        write_record(note.parent, record)


def onnx_encoder(model: str, index_path, record: dict, workers: int = 1, threads: int | None = None):
    from .embed import OnnxEncoder

    return OnnxEncoder(model, index_path / record["file"], index_path / record["tokenizer"],
                       int(record.get("max_seq_length", 256)), threads=threads, workers=workers,
                       source_id=record.get("sha256"))


def map_export(stored) -> None:
    """Give the index's ONNX export its mapped copy (embed.make_mapped) if it has none: questions
    then load it in 25 ms instead of 130. Costs about 0.4 s once; without it nothing changes."""
    record = stored.extra.get("onnx")
    if isinstance(record, dict) and isinstance(record.get("sha256"), str) and export_on_disk(stored.path, record):
        from .embed import make_mapped

        make_mapped(stored.path / record["file"], record["sha256"])


def _export_cache(settings: Settings, quantize: bool):
    """Per-user cache of ONNX exports, keyed by model files: later indexes skip torch entirely."""

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
    if encoder is None:
        check_model(settings.model)
    if encoder is None and backend == "torch":
        from .embed import load_encoder

        encoder = load_encoder(settings.model)
    record = _onnx_record(previous, settings, backend) or _onnx_export(settings, index_path, backend == "onnx-int8", encoder)
    if backend == "torch":
        return encoder, {"backend": backend, "onnx": record}
    if record is None:
        raise QaBotError(f"model {settings.model!r} cannot be exported to ONNX; use --backend torch")
    from .embed import usable_cores

    try:
        encoder = onnx_encoder(settings.model, index_path, record, workers=usable_cores())
    except QaBotError as exc:
        raise QaBotError(f"{exc}; rebuild with: {index_mod.hint(index_path, settings.docs)} --rebuild") from None
    return encoder, {"backend": backend, "onnx": record}


def query_encoder(stored, settings: Settings, preload=None):
    """The ONNX export recorded with the index when present (fast, no torch), else the torch model.

    `preload` (preload.Preload) may already hold that export, loaded while the index opened.
    """
    record = _onnx_record(stored, settings, stored.extra.get("backend", "torch"))
    early = preload.take(stored.path, stored.model, record) if preload is not None else None
    if early is not None:
        return early
    if record is not None:
        _note_record(stored.path, record)
        try:
            # one thread: a question is a dozen word pieces, too few to share (2.0 ms against
            # 2.4 ms on two threads here), and the bot's other questions get the other cores
            return onnx_encoder(stored.model, stored.path, record, threads=1)
        except QaBotError as exc:
            log.warning("%s; using the torch model", exc)
    from .embed import load_encoder

    log.warning("no usable ONNX export in %s; loading the torch model (slow)", stored.path)
    return load_encoder(settings.model)
