#!/usr/bin/env bash
# Sets the machine up (scripts/bootstrap.sh), checks the import contract (lint-imports) and runs
# the whole test suite against real MinIO and Neo4j servers, which the tests start on free
# loopback ports. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
# The layering contract in pyproject.toml: the domain core imports neither Dagster nor the
# resources and assets.
.venv/bin/lint-imports
exec .venv/bin/python -m pytest -rs "$@"
