"""A plain NumPy forward pass of the MiniLM sentence encoder, an independent check of the graph.

It follows the Hugging Face BERT code path step by step (embeddings, post-LayerNorm encoder
layers, erf GELU, masked mean pooling, L2 normalisation) and shares nothing with the graph
builder but the weights, so a wiring mistake in the graph shows up as a disagreement.
"""

from __future__ import annotations

import numpy as np

from hbi.embedding.model_files import BertConfig

# Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, below float32 resolution near 1, which is
# enough for GELU; NumPy has no erf and SciPy is not a dependency.
_AS_P = 0.3275911
_AS_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def erf(x: np.ndarray) -> np.ndarray:
    """Give erf(x) elementwise to about 1e-7 absolute error."""
    sign = np.sign(x)
    ax = np.abs(x)
    t = 1.0 / (1.0 + _AS_P * ax)
    a1, a2, a3, a4, a5 = _AS_A
    poly = t * (a1 + t * (a2 + t * (a3 + t * (a4 + t * a5))))
    return (sign * (1.0 - poly * np.exp(-ax * ax))).astype(x.dtype)


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _linear(x: np.ndarray, weights: dict[str, np.ndarray], name: str) -> np.ndarray:
    # PyTorch Linear stores weight as (out, in). Flattening to 2-D makes one large BLAS call
    # instead of one per batch row.
    weight = weights[f"{name}.weight"]
    flat = x.reshape(-1, x.shape[-1]) @ weight.T + weights[f"{name}.bias"]
    return flat.reshape(*x.shape[:-1], weight.shape[0])


def numpy_embed(
    weights: dict[str, np.ndarray],
    config: BertConfig,
    input_ids: np.ndarray,
    attention_mask: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Give a padded id batch's unit sentence embeddings (batch, hidden) and token states.

    The token states are the last layer's output, (batch, sequence, hidden), as the graph's
    `token_embeddings` output gives them.
    """
    states = numpy_token_states(weights, config, input_ids, attention_mask)
    mask = attention_mask.astype(np.float32)
    summed = (states * mask[:, :, None]).sum(axis=1)
    pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
    norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return (pooled / norms).astype(np.float32), states.astype(np.float32)


def numpy_token_states(
    weights: dict[str, np.ndarray],
    config: BertConfig,
    input_ids: np.ndarray,
    attention_mask: np.ndarray,
) -> np.ndarray:
    """Give the last encoder layer's (batch, sequence, hidden) states of a padded id batch."""
    batch, seq = input_ids.shape
    eps = config.layer_norm_eps
    mask = attention_mask.astype(np.float32)
    x = (
        weights["embeddings.word_embeddings.weight"][input_ids]
        + weights["embeddings.position_embeddings.weight"][:seq]
        + weights["embeddings.token_type_embeddings.weight"][0]
    )
    x = _layer_norm(
        x, weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"], eps
    )
    heads, head_size = config.num_heads, config.head_size
    # Padding keys get a large negative score so softmax gives them zero weight.
    key_bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]

    def split_heads(t: np.ndarray) -> np.ndarray:
        return t.reshape(batch, seq, heads, head_size).transpose(0, 2, 1, 3)

    for i in range(config.num_layers):
        p = f"encoder.layer.{i}"
        q = split_heads(_linear(x, weights, f"{p}.attention.self.query"))
        k = split_heads(_linear(x, weights, f"{p}.attention.self.key"))
        v = split_heads(_linear(x, weights, f"{p}.attention.self.value"))
        # einsum runs its own loops; matmul would make one threaded BLAS call per head and
        # batch row, and those hundreds of small calls stall when the CPU is shared.
        scores = np.einsum("bhqd,bhkd->bhqk", q, k) / np.float32(np.sqrt(head_size)) + key_bias
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        probs = scores / scores.sum(axis=-1, keepdims=True)
        context = np.einsum("bhqk,bhkd->bqhd", probs, v).reshape(batch, seq, config.hidden_size)
        attended = _linear(context, weights, f"{p}.attention.output.dense")
        x = _layer_norm(
            x + attended,
            weights[f"{p}.attention.output.LayerNorm.weight"],
            weights[f"{p}.attention.output.LayerNorm.bias"],
            eps,
        )
        inner = _linear(x, weights, f"{p}.intermediate.dense")
        inner = 0.5 * inner * (1.0 + erf(inner / np.float32(np.sqrt(2.0))))
        x = _layer_norm(
            x + _linear(inner, weights, f"{p}.output.dense"),
            weights[f"{p}.output.LayerNorm.weight"],
            weights[f"{p}.output.LayerNorm.bias"],
            eps,
        )
    return x
