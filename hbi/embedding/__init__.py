"""The embedding model: all-MiniLM-L6-v2 run on onnxruntime from a graph built from its weights.

The names below load on first use, so code that only needs the model's id
(`model_files.installed_model_id`) does not start ONNX Runtime.
"""

from importlib import import_module

_EXPORTS = {
    "MODEL_NAME": "hbi.embedding.model_files",
    "MiniLMEmbedder": "hbi.embedding.minilm",
    "MiniLMTokenizer": "hbi.embedding.tokenizer",
    "ModelFilesMissingError": "hbi.embedding.model_files",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hbi.embedding' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
