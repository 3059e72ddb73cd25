"""The embedding model: all-MiniLM-L6-v2 run on onnxruntime from a graph built from its weights."""

from hbi.embedding.minilm import MODEL_NAME, MiniLMEmbedder
from hbi.embedding.model_files import ModelFilesMissingError
from hbi.embedding.tokenizer import MiniLMTokenizer

__all__ = ["MODEL_NAME", "MiniLMEmbedder", "MiniLMTokenizer", "ModelFilesMissingError"]
