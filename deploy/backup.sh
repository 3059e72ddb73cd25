#!/usr/bin/env bash
# Cold backup of HBI's production stack: drains running runs, stops the stack, archives every
# state volume (Dagster's Postgres, MinIO, Neo4j, the SQLite index, Dagster's local storage) as
# of one moment into DEST with SHA-256 sums, and starts the stack again.
#   deploy/backup.sh [DEST]          DEST defaults to deploy/backups/<UTC time>
# Copy DEST off this host afterwards: a backup on the disk it protects is not yet a backup.
# The backup holds no secret, but restoring it needs the same deploy/.env: keep that file in
# your secret store next to the backup.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=compose.sh
source "$(dirname "$0")/compose.sh"

dest="${1:-$deploy_dir/backups/$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"
image="$(hbi_image)"

drain_runs
compose stop
trap 'compose up -d' EXIT

for volume in "${STATE_VOLUMES[@]}"; do
  echo "archiving $volume"
  docker run --rm --user 0 --network none --entrypoint tar \
    -v "$volume:/volume:ro" -v "$dest:/backup" "$image" \
    --numeric-owner -czf "/backup/$volume.tar.gz" -C /volume .
done

{
  echo "created=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "image=$image"
  echo "commit=$(git -C "$deploy_dir" rev-parse HEAD 2>/dev/null || echo unknown)"
} > "$dest/MANIFEST"
(cd "$dest" && sha256sum ./*.tar.gz > SHA256SUMS)
echo "backup written to $dest"
