#!/usr/bin/env bash
# Sets the machine up, starts MinIO and Neo4j on 127.0.0.1 and opens the Dagster UI
# (webserver + daemon) on http://127.0.0.1:3000. Stop with Ctrl-C, then `.venv/bin/hbi stack down`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/hbi up
