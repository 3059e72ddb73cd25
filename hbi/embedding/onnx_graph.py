"""The MiniLM sentence encoder as an ONNX graph, built node by node from the safetensors weights.

Inputs are `input_ids` and `attention_mask` (int64, batch x sequence, right-padded). Outputs:
`sentence_embedding`, (batch, hidden) float32, mean-pooled over the mask and L2-normalised, so
the whole sentence-transformers pipeline runs inside onnxruntime; and `token_embeddings`,
(batch, sequence, hidden) float32, the last layer's state of every token, from which the
embedder pools sentence vectors. A caller that asks only for `sentence_embedding` pays nothing
for the second output: it is a tensor the pooling reads anyway.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from hbi.embedding.model_files import BertConfig

# Bump when the graph changes: it is part of the cache key of the built file.
BUILDER_VERSION = 2
OPSET = 18
MS_DOMAIN = "com.microsoft"
SENTENCE_OUTPUT = "sentence_embedding"
TOKEN_OUTPUT = "token_embeddings"


class _GraphBuilder:
    """Collects nodes and initializers with unique names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def constant(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(
        self,
        op_type: str,
        inputs: list[str],
        domain: str = "",
        output: str | None = None,
        **attrs: object,
    ) -> str:
        self._count += 1
        output = output or f"{op_type.lower()}_{self._count}"
        self.nodes.append(
            helper.make_node(
                op_type, inputs, [output], name=f"{op_type}_{self._count}", domain=domain, **attrs
            )
        )
        return output


def build_encoder_graph(weights: dict[str, np.ndarray], config: BertConfig) -> onnx.ModelProto:
    """Give the ONNX model of the encoder: pooled unit vectors and the last token states."""
    g = _GraphBuilder()
    eps = config.layer_norm_eps

    def linear_weight(name: str) -> str:
        # PyTorch Linear stores (out, in); MatMul wants (in, out).
        return g.constant(f"{name}.weight.T", weights[f"{name}.weight"].T)

    def param(name: str) -> str:
        return g.constant(name, weights[name])

    # Every token has type 0, so the token-type row folds into the position table and the
    # fused embedding kernel needs no segment input.
    positions = (
        weights["embeddings.position_embeddings.weight"][: config.max_seq_length]
        + weights["embeddings.token_type_embeddings.weight"][0]
    )
    g.nodes.append(
        helper.make_node(
            "EmbedLayerNormalization",
            [
                g.op("Cast", ["input_ids"], to=TensorProto.INT32),
                "",
                param("embeddings.word_embeddings.weight"),
                g.constant("embeddings.positions_with_type0", positions),
                "",
                param("embeddings.LayerNorm.weight"),
                param("embeddings.LayerNorm.bias"),
                g.op("Cast", ["attention_mask"], to=TensorProto.INT32),
            ],
            ["embedded", "mask_index"],  # mask_index: each row's length, as Attention expects
            name="EmbedLayerNormalization",
            domain=MS_DOMAIN,
            epsilon=eps,
        )
    )
    x = "embedded"

    for i in range(config.num_layers):
        p = f"encoder.layer.{i}"
        last = i == config.num_layers - 1
        qkv = [f"{p}.attention.self.{n}" for n in ("query", "key", "value")]
        qkv_weight = np.concatenate([weights[f"{n}.weight"].T for n in qkv], axis=1)
        qkv_bias = np.concatenate([weights[f"{n}.bias"] for n in qkv])
        context = g.op(
            "Attention",
            [
                x,
                g.constant(f"{p}.attention.qkv.weight.T", qkv_weight),
                g.constant(f"{p}.attention.qkv.bias", qkv_bias),
                "mask_index",
            ],
            domain=MS_DOMAIN,
            num_heads=config.num_heads,
        )
        attended = g.op("MatMul", [context, linear_weight(f"{p}.attention.output.dense")])
        x = g.op(
            "SkipLayerNormalization",
            [
                attended,
                x,
                param(f"{p}.attention.output.LayerNorm.weight"),
                param(f"{p}.attention.output.LayerNorm.bias"),
                param(f"{p}.attention.output.dense.bias"),
            ],
            domain=MS_DOMAIN,
            epsilon=eps,
        )
        inner = g.op("MatMul", [x, linear_weight(f"{p}.intermediate.dense")])
        # BiasGelu is the exact erf GELU of the checkpoint; FastGelu's tanh form is not.
        inner = g.op("BiasGelu", [inner, param(f"{p}.intermediate.dense.bias")], domain=MS_DOMAIN)
        out = g.op("MatMul", [inner, linear_weight(f"{p}.output.dense")])
        x = g.op(
            "SkipLayerNormalization",
            [
                out,
                x,
                param(f"{p}.output.LayerNorm.weight"),
                param(f"{p}.output.LayerNorm.bias"),
                param(f"{p}.output.dense.bias"),
            ],
            domain=MS_DOMAIN,
            output=TOKEN_OUTPUT if last else None,
            epsilon=eps,
        )

    _mean_pool_and_normalise(g, x)
    return _model(g, config)


def _mean_pool_and_normalise(g: _GraphBuilder, hidden_states: str) -> None:
    """Add sentence_embedding = L2-normalised mean of the unmasked token states."""
    mask = g.op(
        "Unsqueeze",
        [
            g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT),
            g.constant("pool.axis_last", np.array([-1], dtype=np.int64)),
        ],
    )
    axis_seq = g.constant("pool.axis_seq", np.array([1], dtype=np.int64))
    summed = g.op("ReduceSum", [g.op("Mul", [hidden_states, mask]), axis_seq], keepdims=0)
    count = g.op("ReduceSum", [mask, axis_seq], keepdims=0)
    # The floors match sentence-transformers' clamp(min=1e-9) and F.normalize's eps=1e-12.
    min_count = g.constant("pool.min_count", np.array(1e-9, dtype=np.float32))
    pooled = g.op("Div", [summed, g.op("Max", [count, min_count])])
    axis_hidden = g.constant("pool.axis_hidden", np.array([1], dtype=np.int64))
    norm = g.op("ReduceL2", [pooled, axis_hidden], keepdims=1)
    min_norm = g.constant("pool.min_norm", np.array(1e-12, dtype=np.float32))
    g.nodes.append(
        helper.make_node(
            "Div", [pooled, g.op("Max", [norm, min_norm])], [SENTENCE_OUTPUT], name="L2"
        )
    )


def _model(g: _GraphBuilder, config: BertConfig) -> onnx.ModelProto:
    token_axes = ["batch", "sequence"]
    graph = helper.make_graph(
        g.nodes,
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, token_axes),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, token_axes),
        ],
        [
            helper.make_tensor_value_info(
                SENTENCE_OUTPUT, TensorProto.FLOAT, ["batch", config.hidden_size]
            ),
            helper.make_tensor_value_info(
                TOKEN_OUTPUT, TensorProto.FLOAT, [*token_axes, config.hidden_size]
            ),
        ],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(MS_DOMAIN, 1)],
        producer_name="hbi.embedding",
        producer_version=str(BUILDER_VERSION),
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
