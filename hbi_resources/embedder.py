"""The embedding model as a resource: all-MiniLM-L6-v2, loaded once per process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    from hbi.embedding import MiniLMEmbedder


@lru_cache(maxsize=2)
def _load(cache: str, threads: int | None) -> MiniLMEmbedder:
    # Loading builds or reads the ONNX graph and starts an ONNX Runtime session: seconds, so a
    # process (a run, the CLI, the HTTP API) does it once. The model's modules (ONNX, 1.4 s to
    # import) load here too, not with the definitions: every run process and every code
    # server loads those, and most of them never embed.
    from hbi.embedding import MiniLMEmbedder

    return MiniLMEmbedder(cache_dir=Path(cache), threads=threads)


class EmbedderResource(dg.ConfigurableResource):
    """Embeds texts with all-MiniLM-L6-v2 into L2-normalised 384-d vectors, offline."""

    cache_dir: str | None = None
    threads: int | None = None
    batch_size: int = 32

    def model(self) -> MiniLMEmbedder:
        """Return the loaded model (shared by every user of this resource in the process)."""
        from hbi.embedding.onnx_cache import default_cache_dir

        return _load(self.cache_dir or str(default_cache_dir()), self.threads)
