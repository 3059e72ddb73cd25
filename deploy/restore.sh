#!/usr/bin/env bash
# Restores a backup made by deploy/backup.sh: checks its SHA-256 sums, stops the stack, replaces
# the contents of every state volume with the archived ones and starts the stack again. Works
# on a fresh host too (the volumes are created first). Everything written since the backup is
# lost, so it asks first unless --yes is given.
#   deploy/restore.sh [--yes] SRC
# Use the deploy/.env the backup was made with: Postgres and Neo4j keep their passwords in
# their data.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=compose.sh
source "$(dirname "$0")/compose.sh"

yes=0
if [ "${1:-}" = "--yes" ]; then yes=1; shift; fi
[ $# -eq 1 ] || { echo "usage: deploy/restore.sh [--yes] BACKUP_DIR" >&2; exit 2; }
src="$(cd "$1" && pwd)"
image="$(hbi_image)"

(cd "$src" && sha256sum -c --quiet SHA256SUMS)
for volume in "${STATE_VOLUMES[@]}"; do
  [ -f "$src/$volume.tar.gz" ] || { echo "$src lacks $volume.tar.gz" >&2; exit 1; }
done
if [ "$yes" -ne 1 ]; then
  read -r -p "Replace all HBI data with the backup in $src? [y/N] " answer
  [ "$answer" = "y" ] || [ "$answer" = "Y" ] || { echo "nothing changed"; exit 1; }
fi

if [ -n "$(compose ps -q)" ]; then
  drain_runs
fi
compose down
# Creates the state volumes without starting anything, so Compose owns them: through the services
# that mount them, and only those (--no-deps), because Compose 1.29 would otherwise wait for
# hbi-init, a dependency of hbi-code, to complete, which a created container never does.
compose up --no-start --no-deps postgres minio neo4j hbi-code

for volume in "${STATE_VOLUMES[@]}"; do
  echo "restoring $volume"
  docker run --rm --user 0 --network none --entrypoint sh \
    -v "$volume:/volume" -v "$src:/backup:ro" "$image" \
    -c "find /volume -mindepth 1 -delete && tar --numeric-owner -xzf /backup/$volume.tar.gz -C /volume"
done

compose up -d
echo "restored from $src; the stack is starting (docker compose ps shows its health)"
