#!/usr/bin/env bash
# The main job on a fresh machine: set up, start MinIO + Neo4j on 127.0.0.1, ingest a folder of
# books through Dagster (default: ../shared/corpus) and answer a sample search.
#   scripts/quickstart.sh [FOLDER] ["QUERY"]
set -euo pipefail
cd "$(dirname "$0")/.."
folder=${1:-../shared/corpus}
query=${2:-"how does a blockchain reach consensus"}
if [ ! -d "$folder" ]; then
  echo "error: $folder is not a folder of books; run: scripts/quickstart.sh /path/to/books" >&2
  exit 2
fi
scripts/bootstrap.sh
.venv/bin/hbi stack up
.venv/bin/hbi ingest "$folder"
.venv/bin/hbi search "$query" -k 5
echo
echo "Next: '.venv/bin/hbi up' opens the Dagster UI on http://127.0.0.1:3000 (runs, assets, checks)."
