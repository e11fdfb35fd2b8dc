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
                       mapped=mapped_model(index_path, record))


# --------------------------------------------------------------------------- the mapped copy of an export
#
# onnx/<stem>.mapped-<key>/ holds the export's graph as onnxruntime optimises it (model.onnx), its weights in
# a file onnxruntime maps instead of reading (weights.bin) and their sizes and hashes (files.json). A session
# then starts in 25 ms instead of 130, a cold `ask`'s critical path, and processes share the weights' pages.
# The key covers the export, onnxruntime and the processor: a copy is used only where it was checked to
# embed exactly as the export does. Made once in the per-user cache of exports and hard-linked into each index.

MAPPED = ".mapped-"
_MAPPED_FILES = ("model.onnx", "weights.bin")
_PROBES = ["Who made a speech after the ambassador?", "what's the embassy's phone number?? thx", "Кто подписал письмо?",
           "대사관은 어디에 있나요?", "Version 5.0.0, 12 May 2025: 3.14 % of 1,000,000 bytes (UTF-8) #35 ctrl-r"]


def _machine() -> str:
    """The processor's architecture and instruction-set flags, which onnxruntime's kernels depend on."""
    flags = ""
    with contextlib.suppress(OSError, StopIteration):
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            flags = next(line for line in fh if line.startswith(("flags", "Features"))).split(":", 1)[-1].strip()
    return f"{os.uname().machine if hasattr(os, 'uname') else sys.platform}|{flags}"


def mapped_folder(model_file: Path, sha256: str) -> Path:
    """Where the mapped copy of the export `model_file` (of that sha256) lives for this onnxruntime and processor."""
    import onnxruntime as ort

    key = hashlib.sha256(f"{sha256}|{ort.__version__}|{_machine()}".encode()).hexdigest()[:16]
    return model_file.parent / f"{model_file.stem}{MAPPED}{key}"


def _matches(folder: Path, by_hash: bool = False) -> bool:
    """Whether a copy's files have the sizes (cheap enough for every load) or, `by_hash`, the SHA-256
    (0.15 s: for --check and before linking) written with them in its files.json."""
    try:
        files = json.loads((folder / "files.json").read_text(encoding="utf-8"))
        if by_hash:
            return all(index_mod.sha256_file(folder / name) == files[name]["sha256"] for name in _MAPPED_FILES)
        return all(os.stat(folder / name).st_size == files[name]["size"] for name in _MAPPED_FILES)
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _intact(folder: Path) -> bool:
    """A published copy whose files have the sizes written with them."""
    return _matches(folder)


def mapped_model(index_path, record: dict) -> Path | None:
    """The mapped copy's model.onnx for the export `record` names, when one is there for this machine."""
    try:
        model_file = index_mod.onnx_path(Path(index_path), record.get("file"))
        if model_file is None or not isinstance(record.get("sha256"), str):
            return None
        folder = mapped_folder(model_file, record["sha256"])
        return folder / "model.onnx" if _intact(folder) else None
    except OSError:  # a folder this user may not read: the export itself, as before
        return None


def _discard(folder: Path) -> bool:
    """Remove a copy, renamed out of the way first so that a half-removed one never looks whole; True when gone."""
    dead = folder.with_name(f"{MAPPED}dead-{os.getpid()}-{folder.name}")
    try:
        os.rename(folder, dead)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    shutil.rmtree(dead, ignore_errors=True)
    return True


def _sweep(onnx_dir: Path, keep: Path) -> None:
    """Remove the other copies (another export, onnxruntime or processor) and what killed processes left."""
    import time

    for entry in onnx_dir.glob(f"*{MAPPED}*"):
        if entry in (keep, _unusable(keep)):
            continue
        if not entry.is_dir():
            entry.unlink(missing_ok=True)  # another key's mark
            continue
        if not entry.name.startswith(MAPPED):
            _discard(entry)
            continue
        with contextlib.suppress(OSError):  # a temporary folder: another process's, unless it is old or dead
            if entry.name.startswith(f"{MAPPED}dead-") or time.time() - entry.stat().st_mtime > 120:
                shutil.rmtree(entry, ignore_errors=True)


def _unusable(target: Path) -> Path:
    """The mark left where a copy did not embed exactly as its export (so no build tries again)."""
    return target.with_name(target.name + ".unusable")


def _publish(tmp: Path, target: Path) -> bool:
    """Rename a finished temporary folder to `target` after syncing its files; True when a copy is there
    (another process may have published it first)."""
    for f in tmp.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    index_mod.fsync_dir(tmp)
    try:
        os.rename(tmp, target)
    except OSError:
        return _intact(target)
    index_mod.fsync_dir(target.parent)
    return True


@contextlib.contextmanager
def _staging(target: Path):
    """A temporary folder beside `target`, as readable as the folder it goes into, removed afterwards
    (after a rename it is gone already; a failure's leftovers are not)."""
    import tempfile

    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=MAPPED))
    try:
        os.chmod(tmp, target.parent.stat().st_mode & 0o777)  # mkdtemp's 0700 would lock other users out
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _make(model_file: Path, sha256: str, tokenizer_file: Path, max_seq_length: int, target: Path) -> bool:
    """Write the mapped copy of `model_file` as `target`, published only when it embeds the probe texts
    exactly as the export does; True when a copy is there."""
    import numpy as np

    from .embed import OnnxEncoder
    from .export import save_optimised

    if index_mod.sha256_file(model_file) != sha256:
        log.info("no mapped copy of %s: the file is not the export the index records", model_file)
        return False
    with _staging(target) as tmp:
        save_optimised(model_file, tmp / "model.onnx", "weights.bin")
        texts = _PROBES + [" ".join(_PROBES * 40)]  # the last one is cut at max_seq_length
        plain, mapped = (OnnxEncoder("probe", f, tokenizer_file, max_seq_length, threads=1)
                         for f in (model_file, tmp / "model.onnx"))
        if not np.array_equal(plain.encode(texts), mapped.encode(texts)):
            log.info("no mapped copy of %s: it does not embed exactly as the export", model_file)
            _unusable(target).touch()  # not tried again on this machine
            return False
        del plain, mapped
        files = {name: {"size": (tmp / name).stat().st_size, "sha256": index_mod.sha256_file(tmp / name)}
                 for name in _MAPPED_FILES}
        (tmp / "files.json").write_text(json.dumps(files), encoding="utf-8")
        return _publish(tmp, target)


def _link(source: Path, target: Path) -> bool:
    """Hard-link (or copy) the published copy `source` as `target`; True when a copy is there."""
    with _staging(target) as tmp:
        for name in (*_MAPPED_FILES, "files.json"):
            try:
                os.link(source / name, tmp / name)
            except OSError:
                shutil.copyfile(source / name, tmp / name)
        return _intact(tmp) and _publish(tmp, target)


def map_export(stored, settings: Settings) -> None:
    """Give the index's ONNX export its mapped copy when it has none (linked from the per-user cache, made
    there once: 0.7 s). An optimisation only: whatever fails, questions load the export itself."""
    record = stored.extra.get("onnx")
    if not isinstance(record, dict) or not isinstance(record.get("sha256"), str) or not export_on_disk(stored.path, record):
        return
    model_file = stored.path / record["file"]
    try:
        target = mapped_folder(model_file, record["sha256"])
        _sweep(model_file.parent, keep=target)
        if _intact(target) or _unusable(target).exists() or (target.exists() and not _discard(target)):
            return
        if _from_cache(settings, record, model_file.name, target):
            return
        _make(model_file, record["sha256"], stored.path / record["tokenizer"], int(record.get("max_seq_length", 256)), target)
    except Exception as exc:  # noqa: BLE001 - an optimisation: questions load the export itself
        log.info("no mapped copy of %s: %s", model_file, first_line(exc))


def _from_cache(settings: Settings, record: dict, name: str, target: Path) -> bool:
    """Link the copy made once in the per-user cache of exports (making it there first) as `target`."""
    try:
        cache = _export_cache(settings, bool(record.get("quantized")))
        source = cache / name if cache is not None else None
        if source is None or not source.is_file() or (_cached_record(cache) or {}).get("sha256") != record["sha256"]:
            return False
        shared = mapped_folder(source, record["sha256"])
        _sweep(cache, keep=shared)
        if _unusable(shared).exists():
            return False
        if _intact(shared) and not _hashes_match(shared):
            _discard(shared)  # damaged in place: every index linked to it gets the good one again
        made = _intact(shared) or _make(source, record["sha256"], cache / "tokenizer.json",
                                        int(record.get("max_seq_length", 256)), shared)
        return made and _link(shared, target)
    except Exception as exc:  # noqa: BLE001 - a cache that is not writable or not whole: made in the index instead
        log.info("no mapped copy in the cache of exports: %s", first_line(exc))
        return False


def _cached_record(cache: Path) -> dict | None:
    """The record (record.json) of the export a cache entry holds, or None."""
    try:
        record = json.loads((cache / "record.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _hashes_match(folder: Path) -> bool:
    """Whether a copy's files have the SHA-256 written with them."""
    return _matches(folder, by_hash=True)


def remove_damaged_mapped(model_file: Path | None) -> tuple[int, list[Path]]:
    """`qa-bot index --check`: remove the mapped copies whose files no longer match their hashes.
    Returns how many were removed and those that could not be."""
    gone, left = 0, []
    if model_file is None:
        return gone, left
    for folder in model_file.parent.glob(f"{model_file.stem}{MAPPED}*"):
        if not folder.is_dir() or _hashes_match(folder):  # a mark file, or a whole copy
            continue
        if _discard(folder):
            gone += 1
        else:
            left.append(folder)
    return gone, left


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
        if cache is not None and _copy_export(cache, index_path / ONNX_DIR) and (cached := _cached_record(cache)):
            return cached
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
