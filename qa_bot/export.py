"""Model folder to ONNX: the transformer, its pooling and L2 normalisation as one graph.

BERT-family models are written straight from their weights (bert_onnx, about a second, no
torch); any other model goes through torch.onnx.export, run in a child process by indexing.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ONNX_DIR = "onnx"


def _pooling(model_path: Path) -> str | None:
    """'mean' or 'cls' from the model's sentence-transformers pooling config; None if unsupported."""
    import json

    config = model_path / "1_Pooling" / "config.json"
    if not config.exists():
        return "mean"
    data = json.loads(config.read_text())
    if data.get("pooling_mode_mean_tokens"):
        return "mean"
    if data.get("pooling_mode_cls_token"):
        return "cls"
    return None


def model_max_seq_length(model_path: Path) -> int:
    """Word pieces per text the model takes, as sentence-transformers reads it from the folder."""
    import json

    def read(name: str) -> dict:
        try:
            return json.loads((model_path / name).read_text())
        except (OSError, ValueError):
            return {}

    configured = read("sentence_bert_config.json").get("max_seq_length")
    if configured:
        return int(configured)
    limits = [read("tokenizer_config.json").get("model_max_length"), read("config.json").get("max_position_embeddings"), 512]
    return min(int(x) for x in limits if isinstance(x, (int, float)))


def export_onnx(model: str | Path, target: Path, quantize: bool = False, via: str = "auto") -> dict | None:
    """Write `model` (a local folder) as an ONNX graph under `target`, int8 when `quantize`.

    via: "weights" (bert_onnx, no torch), "torch" (torch.onnx.export) or "auto" (weights when
    the model is BERT-family). Returns the manifest record ({file, sha256, size, tokenizer,
    max_seq_length, quantized, via}), or None when the model has no local tokenizer.json or
    uses a pooling this export does not cover.
    """
    import shutil
    import tempfile

    from . import bert_onnx
    from .index import sha256_file

    model_path = Path(model)
    pooling = _pooling(model_path) if model_path.is_dir() else None
    if pooling is None or not (model_path / "tokenizer.json").exists():
        return None
    if via == "auto":
        via = "weights" if bert_onnx.supported(model_path) else "torch"
    target.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target, prefix=".export-"))
    try:
        if via == "weights":
            import onnx

            onnx.save(bert_onnx.build(model_path, pooling), str(tmp / "model.onnx"))
        else:
            _torch_export(model_path, pooling, tmp / "model.onnx")
        name = "model.onnx"
        if quantize:
            import logging

            from onnxruntime.quantization import QuantType, quantize_dynamic

            logging.getLogger().disabled, was = True, logging.getLogger().disabled
            try:
                quantize_dynamic(str(tmp / "model.onnx"), str(tmp / "model-int8.onnx"), weight_type=QuantType.QInt8,
                                 per_channel=True, op_types_to_quantize=["MatMul"])
            finally:
                logging.getLogger().disabled = was
            (tmp / "model.onnx").unlink()
            name = "model-int8.onnx"
        shutil.copy(model_path / "tokenizer.json", tmp / "tokenizer.json")
        digest = sha256_file(tmp / name)
        for f in tmp.iterdir():
            os.replace(f, target / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    record = {"file": f"{ONNX_DIR}/{name}", "sha256": digest, "size": (target / name).stat().st_size,
              "tokenizer": f"{ONNX_DIR}/tokenizer.json", "max_seq_length": model_max_seq_length(model_path),
              "quantized": quantize, "via": via}
    write_record(target, record)  # beside the model too, so a process can start loading it before it opens the index
    return record


def save_optimised(model_file: Path, target: Path, weights: str = "weights.bin") -> None:
    """Write `model_file` as onnxruntime optimises its graph to `target`, the weights in the file
    `weights` beside it, which onnxruntime maps at load instead of reading and parsing them.

    Graph fusions only: the layout level may depend on the processor, and is applied again at load.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(target)
    options.add_session_config_entry("session.optimized_model_external_initializers_file_name", weights)
    options.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])


def write_record(onnx_dir: Path, record: dict) -> None:
    """`onnx_dir/record.json`, written whole or not at all (preload.py reads it at start); OSError on failure."""
    tmp = onnx_dir / f".record.json.{os.getpid()}.tmp"
    try:
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, onnx_dir / "record.json")
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def _torch_export(model_path: Path, pooling: str, out: Path) -> None:
    """torch.onnx.export of the transformer wrapped with pooling and normalisation."""
    import warnings

    import torch
    from transformers import AutoModel

    # eager attention exports as plain MatMul/Softmax with an additive mask; the SDPA path
    # exports full-size Where/IsNaN masking that costs a third of an int8 forward pass
    base = AutoModel.from_pretrained(str(model_path), attn_implementation="eager")
    base.eval()

    class Embedder(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            # keyword arguments: transformers 5 changed the positional order
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
            if pooling == "cls":
                pooled = hidden[:, 0]
            else:
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    ids = torch.ones(2, 8, dtype=torch.long)
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
            "token_type_ids": {0: "batch", 1: "seq"}, "embedding": {0: "batch"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Embedder(base), (ids, ids, torch.zeros_like(ids)), str(out),
            input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["embedding"],
            dynamic_axes=axes, opset_version=17, dynamo=False,
        )


def _export_main(argv: list[str]) -> int:
    """`python -m qa_bot.export MODEL_DIR TARGET [--int8]`: a torch export in a process of its own.

    Indexing runs a torch export this way so torch never shares a process with onnxruntime
    (their thread pools fight over the cores) and its memory is returned when it is done.
    """
    import json

    if len(argv) not in (2, 3) or argv[2:] not in ([], ["--int8"]):
        print("usage: python -m qa_bot.export MODEL_DIR TARGET [--int8]", file=sys.stderr)
        return 2
    record = export_onnx(argv[0], Path(argv[1]), quantize=argv[2:] == ["--int8"], via="torch")
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(_export_main(sys.argv[1:]))
