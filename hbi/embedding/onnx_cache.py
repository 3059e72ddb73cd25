"""The built ONNX encoder on disk, keyed by the weights' hash and the builder version."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hbi import config
from hbi.embedding.model_files import ModelFiles
from hbi.embedding.onnx_graph import BUILDER_VERSION, build_encoder_graph


def default_cache_dir() -> Path:
    """Give the `models` folder of HBI's machine-wide cache (`hbi.config.cache_dir`)."""
    return config.cache_dir() / "models"


def cached_encoder_path(files: ModelFiles, cache_dir: Path) -> Path:
    """Give the path of the encoder's .onnx file, building and storing it first if it is absent."""
    path = cache_dir / f"all-MiniLM-L6-v2.{files.weights_sha256[:16]}.b{BUILDER_VERSION}.onnx"
    if path.is_file():
        return path
    model = build_encoder_graph(files.weights(), files.config())
    cache_dir.mkdir(parents=True, exist_ok=True)
    # A rename within one directory is atomic, so a concurrent loader sees either no file or a
    # complete one, never a half-written graph.
    handle, tmp_name = tempfile.mkstemp(dir=cache_dir, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as tmp:
            tmp.write(model.SerializeToString())
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path
