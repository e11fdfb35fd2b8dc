"""A BERT-family model folder written as an ONNX graph straight from its safetensors weights.

The same graph `torch.onnx.export` makes (eager attention, pooling, L2 normalisation), built
with the onnx package in about a second: the first index of a model never imports torch.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np


def supported(model_path: Path) -> bool:
    """True for a local BertModel with absolute positions, erf GELU and safetensors weights."""
    try:
        config = json.loads((model_path / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return (
        config.get("model_type") == "bert"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and config.get("hidden_act") == "gelu"
        and (model_path / "model.safetensors").is_file()
    )


def build(model_path: Path, pooling: str = "mean"):
    """The ONNX ModelProto: inputs input_ids, attention_mask, token_type_ids; output embedding."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load_file

    config = json.loads((model_path / "config.json").read_text())
    raw = load_file(str(model_path / "model.safetensors"))
    weights = {k.removeprefix("bert."): v for k, v in raw.items()}
    hidden, heads = int(config["hidden_size"]), int(config["num_attention_heads"])
    head_dim = hidden // heads
    eps = float(config.get("layer_norm_eps", 1e-12))

    nodes, inits = [], []
    counter = itertools.count()

    def const(name: str, value) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def weight(key: str, transpose: bool = False) -> str:
        w = weights[key].astype(np.float32)
        return const(key, np.ascontiguousarray(w.T) if transpose else w)

    def op(kind: str, *inputs: str, **attrs) -> str:
        out = f"{kind.lower()}_{next(counter)}"
        nodes.append(helper.make_node(kind, list(inputs), [out], **attrs))
        return out

    def linear(x: str, prefix: str) -> str:
        return op("Add", op("MatMul", x, weight(f"{prefix}.weight", transpose=True)), weight(f"{prefix}.bias"))

    def layer_norm(x: str, prefix: str) -> str:
        return op("LayerNormalization", x, weight(f"{prefix}.weight"), weight(f"{prefix}.bias"), axis=-1, epsilon=eps)

    # embeddings: word + position + token type, then LayerNorm
    seq = op("Gather", op("Shape", "input_ids"), const("one", np.array(1, dtype=np.int64)), axis=0)
    positions = op("Range", const("zero", np.array(0, dtype=np.int64)), seq, "one")
    x = op("Add", op("Gather", weight("embeddings.word_embeddings.weight"), "input_ids"),
           op("Gather", weight("embeddings.position_embeddings.weight"), positions))
    x = op("Add", x, op("Gather", weight("embeddings.token_type_embeddings.weight"), "token_type_ids"))
    x = layer_norm(x, "embeddings.LayerNorm")

    # additive attention mask, as transformers' eager attention builds it: (1 - mask) * min
    mask = op("Cast", "attention_mask", to=TensorProto.FLOAT)
    additive = op("Mul", op("Sub", const("onef", np.array(1.0, dtype=np.float32)), mask),
                  const("minf", np.array(np.finfo(np.float32).min, dtype=np.float32)))
    additive = op("Unsqueeze", additive, const("axes12", np.array([1, 2], dtype=np.int64)))
    split_heads = const("split_heads", np.array([0, 0, heads, head_dim], dtype=np.int64))
    merge_heads = const("merge_heads", np.array([0, 0, hidden], dtype=np.int64))
    scale = const("scale", np.array(1.0 / np.sqrt(head_dim), dtype=np.float32))
    sqrt2 = const("sqrt2", np.array(np.sqrt(2.0), dtype=np.float32))
    half = const("half", np.array(0.5, dtype=np.float32))

    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}"

        def heads_of(name: str, perm: list[int]) -> str:
            return op("Transpose", op("Reshape", linear(x, f"{p}.attention.self.{name}"), split_heads), perm=perm)

        q, k, v = heads_of("query", [0, 2, 1, 3]), heads_of("key", [0, 2, 3, 1]), heads_of("value", [0, 2, 1, 3])
        scores = op("Add", op("Mul", op("MatMul", q, k), scale), additive)
        context = op("MatMul", op("Softmax", scores, axis=-1), v)
        context = op("Reshape", op("Transpose", context, perm=[0, 2, 1, 3]), merge_heads)
        x = layer_norm(op("Add", linear(context, f"{p}.attention.output.dense"), x), f"{p}.attention.output.LayerNorm")
        h = linear(x, f"{p}.intermediate.dense")
        h = op("Mul", op("Mul", h, half), op("Add", op("Erf", op("Div", h, sqrt2)), "onef"))  # erf GELU
        x = layer_norm(op("Add", linear(h, f"{p}.output.dense"), x), f"{p}.output.LayerNorm")

    if pooling == "cls":
        pooled = op("Gather", x, "zero", axis=1)
    else:
        m = op("Unsqueeze", mask, const("axis2", np.array([2], dtype=np.int64)))
        axis1 = const("axis1", np.array([1], dtype=np.int64))
        total = op("ReduceSum", op("Mul", x, m), axis1, keepdims=0)
        count = op("Max", op("ReduceSum", m, axis1, keepdims=0), const("tiny", np.array(1e-9, dtype=np.float32)))
        pooled = op("Div", total, count)
    norm = op("Max", op("ReduceL2", pooled, axes=[-1], keepdims=1), const("eps", np.array(1e-12, dtype=np.float32)))
    nodes.append(helper.make_node("Div", [pooled, norm], ["embedding"]))

    dims = ["batch", "seq"]
    graph = helper.make_graph(
        nodes, "qa_bot_encoder",
        [helper.make_tensor_value_info(name, TensorProto.INT64, dims) for name in ("input_ids", "attention_mask", "token_type_ids")],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="qa-bot")
    onnx.checker.check_model(model)
    return model
