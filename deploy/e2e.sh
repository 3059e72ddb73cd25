#!/usr/bin/env bash
# The Docker deployment end to end, on this machine, as a user runs it:
#   deploy/e2e.sh [BOOK QUERY]
# Starts a Docker engine if none answers (installing Debian's docker.io if needed), builds the
# images without Docker Hub (deploy/local-images.sh), brings up deploy/docker-compose.yml with
# the stand-ins of deploy/docker-compose.local.yml and generated secrets, waits for every health
# check, puts BOOK into the books bucket with an S3 client, waits for the sensor's run in its own
# container (DockerRunLauncher), searches QUERY through the API, opens the hit in the web app's
# reader and lists the MCP tools at /mcp, ingests a 2-page scan of a corpus PDF (images only, no
# text layer) and finds a sentence of its second page through OCR, starts the monitoring
# profile's Prometheus (Debian's, as a stand-in) and sees it scrape the API with the API key
# (a plain `up` starts no monitoring service), takes deploy/backup.sh, deletes
# the book and sees it leave the search, restores the backup and sees it back, restarts the stack
# (down, up) and sees it survive on the volumes, and tears everything down, volumes included.
# BOOK defaults to the corpus's Markdown book. Exits non-zero on the first failure; prints the
# build, up-to-healthy and upload-to-searchable times. Refuses to run where an HBI deployment
# (its fixed volume and network names) already exists.
set -euo pipefail
deploy_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_dir="$(dirname "$deploy_dir")"
corpus="$repo_dir/../shared/corpus"
book="$(realpath "${1:-$corpus/sun-tzu_the-art-of-war.md}")"
# The scanned book: these pages of a corpus PDF as images (tests/extract/ocr_samples.py).
scan_source="$corpus/h-g-wells_the-time-machine.pdf"
scan_pages=(3 4)
scan_key="scanned_the-time-machine.pdf"
default_query="supreme excellence consists in breaking the enemy's resistance without fighting"
query="${2:-$default_query}"
for file in "$book" "$scan_source"; do
  [ -f "$file" ] || { echo "no book at $file" >&2; exit 2; }
done

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
  grep -v -E '^(COMPOSE_PROJECT_NAME|DAGSTER_POSTGRES_PASSWORD|HBI_MINIO_ACCESS_KEY|HBI_MINIO_SECRET_KEY|HBI_NEO4J_PASSWORD|HBI_DOCKER_GID|HBI_PUBLISH_[A-Z_]*PORT|HBI_API_KEY)=' "$deploy_dir/.env.example"
  echo "COMPOSE_PROJECT_NAME=hbi-e2e"
  echo "DAGSTER_POSTGRES_PASSWORD=$(secret)"
  echo "HBI_MINIO_ACCESS_KEY=hbi"
  echo "HBI_MINIO_SECRET_KEY=$(secret)"
  echo "HBI_NEO4J_PASSWORD=$(secret)"
  echo "HBI_DOCKER_GID=$(stat -c %g /var/run/docker.sock)"
  echo "HBI_PUBLISH_UI_PORT=$(port)"
  echo "HBI_PUBLISH_API_PORT=$(port)"
  echo "HBI_PUBLISH_CONSOLE_PORT=$(port)"
  echo "HBI_PUBLISH_PROMETHEUS_PORT=$(port)"
  echo "HBI_PUBLISH_GRAFANA_PORT=$(port)"
  # As a deployment on more than loopback runs: every route but /health needs the key.
  echo "HBI_API_KEY=$(secret)"
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
  compose --profile monitoring rm -sf prometheus >/dev/null 2>&1 || true
  compose down --volumes --remove-orphans >/dev/null 2>&1 || compose down --volumes --remove-orphans
  rm -rf "$work"
  exit "$status"
}
trap teardown EXIT

# The client runs in the HBI image on the stack's network, with HBI's variables from the env file;
# it sees BOOK's folder as /books and the scanned book's as /scans.
scan_dir="$work/scans"
mkdir "$scan_dir"
client() {
  docker run --rm --network hbi_net --user 0 \
    -e HBI_MINIO_ENDPOINT=minio:9000 \
    -e HBI_MINIO_ACCESS_KEY="$(sed -n 's/^HBI_MINIO_ACCESS_KEY=//p' "$env_file")" \
    -e HBI_MINIO_SECRET_KEY="$(sed -n 's/^HBI_MINIO_SECRET_KEY=//p' "$env_file")" \
    -e HBI_API_KEY="$(sed -n 's/^HBI_API_KEY=//p' "$env_file")" \
    -v "$deploy_dir/e2e_client.py:/e2e_client.py:ro" -v "$(dirname "$book"):/books:ro" \
    -v "$scan_dir:/scans:ro" \
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

book_id_of() {
  "$repo_dir/.venv/bin/python" -c 'import sys; from hbi.books.ids import book_id_for_key; print(book_id_for_key(sys.argv[1]))' "$1"
}
book_key="$(basename "$book")"
book_id="$(book_id_of "$book_key")"
scan_id="$(book_id_of "$scan_key")"
# Writes the scan and prints a sentence from the text layer of its last page's original.
scan_query="$(PYTHONPATH="$repo_dir" "$repo_dir/.venv/bin/python" - "$scan_source" "$scan_dir/$scan_key" "${scan_pages[@]}" <<'PY'
import sys
from pathlib import Path

from tests.extract.ocr_samples import page_sentence, scan_pages

source, out, *pages = sys.argv[1:]
numbers = [int(page) for page in pages]
Path(out).write_bytes(scan_pages(Path(source), numbers))
print(page_sentence(Path(source), numbers[-1]))
PY
)"

say "starting the stack"
started=$(date +%s)
compose up -d
wait_healthy
up_s=$(seconds_since "$started")
say "every service healthy after ${up_s}s"
compose ps
for service in prometheus grafana; do
  if [ -n "$(docker ps -aq --filter label=com.docker.compose.project=hbi-e2e --filter "label=com.docker.compose.service=$service")" ]; then
    say "a plain up started $service of the monitoring profile"; exit 1
  fi
done

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

say "a scanned book: pages ${scan_pages[*]} of $(basename "$scan_source") as images, no text layer"
started=$(date +%s)
client upload "/scans/$scan_key"
say "searching a sentence of its page ${#scan_pages[@]} through the API: '$scan_query'"
client search "$scan_query" "$scan_id" "${#scan_pages[@]}"
scan_s=$(seconds_since "$started")
client ocr "$scan_id" $(seq "${#scan_pages[@]}")
say "scanned upload to searchable (OCR in the run container): ${scan_s}s"

say "the monitoring profile's Prometheus (the stand-in; Grafana has none): scraping the API with its key"
compose --profile monitoring up -d --no-deps prometheus
client scraped
compose --profile monitoring rm -sf prometheus

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

say "timings on $(nproc) cores: build ${build_s}s, up to healthy ${up_s}s, upload to searchable ${searchable_s}s, scan to searchable ${scan_s}s"
say "PASSED"
