#!/usr/bin/env bash
# The Docker deployment end to end, on this machine, as a user runs it:
#   deploy/e2e.sh [BOOK QUERY]
# Starts a Docker engine if none answers (installing Debian's docker.io if needed), builds the
# images without Docker Hub (deploy/local-images.sh), brings up deploy/docker-compose.yml with
# the stand-ins of deploy/docker-compose.local.yml and generated secrets, waits for every health
# check, puts BOOK into the books bucket with an S3 client, waits for the sensor's run in its own
# container (DockerRunLauncher), searches QUERY through the API, opens the hit in the web app's
# reader and lists the MCP tools at /mcp, takes deploy/backup.sh, deletes
# the book and sees it leave the search, restores the backup and sees it back, restarts the stack
# (down, up) and sees it survive on the volumes, and tears everything down, volumes included.
# BOOK defaults to the corpus's Markdown book. Exits non-zero on the first failure; prints the
# build, up-to-healthy and upload-to-searchable times. Refuses to run where an HBI deployment
# (its fixed volume and network names) already exists.
set -euo pipefail
deploy_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_dir="$(dirname "$deploy_dir")"
book="$(realpath "${1:-$repo_dir/../shared/corpus/sun-tzu_the-art-of-war.md}")"
default_query="supreme excellence consists in breaking the enemy's resistance without fighting"
query="${2:-$default_query}"
[ -f "$book" ] || { echo "no book at $book" >&2; exit 2; }

say() { echo "[e2e $(date -u +%H:%M:%S)] $*"; }
seconds_since() { echo $(( $(date +%s) - $1 )); }

# The engine: Debian's docker.io where there is none, and dockerd started by hand where no init
# system runs it (containers, CI machines).
if ! docker info >/dev/null 2>&1; then
  if ! command -v dockerd >/dev/null; then
    say "installing docker.io"
    apt-get install -y docker.io >/dev/null || { apt-get update -q && apt-get install -y docker.io >/dev/null; }
  fi
  say "starting dockerd"
  (dockerd >/var/log/dockerd.log 2>&1 &)
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null || { tail -20 /var/log/dockerd.log >&2; exit 1; }
fi
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
  say "installing docker-compose"
  apt-get install -y docker-compose >/dev/null || { apt-get update -q && apt-get install -y docker-compose >/dev/null; }
fi
for name in hbi_net hbi_data hbi_postgres_data hbi_minio_data; do
  if docker inspect "$name" >/dev/null 2>&1; then
    echo "this engine already has $name: an HBI deployment; not touching it" >&2; exit 1
  fi
done

started=$(date +%s)
"$deploy_dir/local-images.sh"
build_s=$(seconds_since "$started")

work="$(mktemp -d)"
env_file="$work/e2e.env"
port() { "$repo_dir/.venv/bin/python" -c 'from hbi.stack.process import free_port; print(free_port())'; }
secret() { "$repo_dir/.venv/bin/python" -c 'import secrets; print(secrets.token_hex(24))'; }
{
  grep -v -E '^(COMPOSE_PROJECT_NAME|DAGSTER_POSTGRES_PASSWORD|HBI_MINIO_ACCESS_KEY|HBI_MINIO_SECRET_KEY|HBI_NEO4J_PASSWORD|HBI_DOCKER_GID|HBI_PUBLISH_[A-Z_]*PORT)=' "$deploy_dir/.env.example"
  echo "COMPOSE_PROJECT_NAME=hbi-e2e"
  echo "DAGSTER_POSTGRES_PASSWORD=$(secret)"
  echo "HBI_MINIO_ACCESS_KEY=hbi"
  echo "HBI_MINIO_SECRET_KEY=$(secret)"
  echo "HBI_NEO4J_PASSWORD=$(secret)"
  echo "HBI_DOCKER_GID=$(stat -c %g /var/run/docker.sock)"
  echo "HBI_PUBLISH_UI_PORT=$(port)"
  echo "HBI_PUBLISH_API_PORT=$(port)"
  echo "HBI_PUBLISH_CONSOLE_PORT=$(port)"
} > "$env_file"
chmod 600 "$env_file"
export HBI_ENV_FILE="$env_file" HBI_COMPOSE_FILES="docker-compose.yml:docker-compose.local.yml"
# shellcheck source-path=SCRIPTDIR source=compose.sh
source "$deploy_dir/compose.sh"
image="$(hbi_image)"

teardown() {
  local status=$?
  if [ "$status" -ne 0 ]; then
    say "FAILED (exit $status); the last logs:"
    compose logs --tail 30 2>&1 | tail -150 || true
  fi
  say "tearing down: run containers, the stack, its volumes"
  docker ps -aq --filter label=org.hbi.role=run-worker | xargs -r docker rm -f >/dev/null || true
  compose down --volumes --remove-orphans >/dev/null 2>&1 || compose down --volumes --remove-orphans
  rm -rf "$work"
  exit "$status"
}
trap teardown EXIT

# The client runs in the HBI image on the stack's network, with HBI's variables from the env file.
client() {
  docker run --rm --network hbi_net --user 0 \
    -e HBI_MINIO_ENDPOINT=minio:9000 \
    -e HBI_MINIO_ACCESS_KEY="$(sed -n 's/^HBI_MINIO_ACCESS_KEY=//p' "$env_file")" \
    -e HBI_MINIO_SECRET_KEY="$(sed -n 's/^HBI_MINIO_SECRET_KEY=//p' "$env_file")" \
    -v "$deploy_dir/e2e_client.py:/e2e_client.py:ro" -v "$(dirname "$book"):/books:ro" \
    "$image" python /e2e_client.py "$@"
}

health() {
  local id
  id="$(compose ps -q "$1")"
  [ -n "$id" ] || { echo missing; return; }
  docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}:{{.State.ExitCode}}{{end}}' "$id"
}

wait_healthy() {
  local deadline=$(( $(date +%s) + 600 )) waiting
  while :; do
    waiting=()
    for service in postgres minio neo4j hbi-code dagster-webserver dagster-daemon hbi-api; do
      [ "$(health "$service")" = healthy ] || waiting+=("$service")
    done
    [ "$(health hbi-init)" = "exited:0" ] || waiting+=(hbi-init)
    [ ${#waiting[@]} -eq 0 ] && return 0
    [ "$(date +%s)" -lt "$deadline" ] || { say "not healthy after 600s: ${waiting[*]}"; return 1; }
    sleep 2
  done
}

book_key="$(basename "$book")"
book_id="$("$repo_dir/.venv/bin/python" -c 'import sys; from hbi.books.ids import book_id_for_key; print(book_id_for_key(sys.argv[1]))' "$book_key")"

say "starting the stack"
started=$(date +%s)
compose up -d
wait_healthy
up_s=$(seconds_since "$started")
say "every service healthy after ${up_s}s"
compose ps

started=$(date +%s)
client upload "/books/$book_key"
say "waiting for the books sensor to launch the run in a container of its own"
run=""
for _ in $(seq 120); do
  run="$(docker ps -a --filter label=org.hbi.role=run-worker --filter label=dagster/job_name=ingest_book \
    --format '{{.Label "dagster/run_id"}} {{.Names}} {{.Image}} {{.Status}}' | head -n 1)"
  [ -n "$run" ] && break
  sleep 1
done
[ -n "$run" ] || { say "no ingest_book run container appeared within 120s"; exit 1; }
say "run container (DockerRunLauncher): run id, container, image, status: $run"
say "searching '$query' through the API"
client search "$query" "$book_id"
searchable_s=$(seconds_since "$started")
say "upload to searchable: ${searchable_s}s"
say "opening the hit in the reader and listing the MCP tools through the API"
client read "$query" "$book_id"

backup_dir="$work/backup"
say "deploy/backup.sh"
started=$(date +%s)
"$deploy_dir/backup.sh" "$backup_dir"
wait_healthy
say "backup taken and the stack healthy again after $(seconds_since "$started")s"

client delete "$book_key"
client gone "$query" "$book_id"

say "deploy/restore.sh"
started=$(date +%s)
"$deploy_dir/restore.sh" --yes "$backup_dir"
wait_healthy
client search "$query" "$book_id"
say "restored: the book is back after $(seconds_since "$started")s"

say "restarting the stack: down, then up"
compose down
compose up -d
wait_healthy
client search "$query" "$book_id"
say "the book survived the restart on the volumes"

say "timings on $(nproc) cores: build ${build_s}s, up to healthy ${up_s}s, upload to searchable ${searchable_s}s"
say "PASSED"
