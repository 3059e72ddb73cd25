"""HBI, the hybrid book index: domain logic free of Dagster (parsing, chunking, search…)."""

import os

__version__ = "0.1.0"

# OpenBLAS worker threads spin between the small matrix products of a search: under 20
# searches a second they burnt 70% of a core doing nothing. Searches already run in parallel
# (requests, and the two legs of a hybrid search), so one BLAS thread each is enough. Set
# before anything imports NumPy; an explicit OPENBLAS_NUM_THREADS wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
