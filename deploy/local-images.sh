#!/usr/bin/env bash
# Builds every image deploy/docker-compose.yml needs without Docker Hub, from Debian's packages
# and what `hbi stack provision` already fetched, for tests and CI on machines that reach only
# the package registries:
#   hbi-local/base:bookworm      Debian bookworm (mmdebstrap) with this host's apt sources, apt
#                                options, CA bundle and pip configuration; built once, then reused
#   hbi-local/python:3.11        the base with Debian's Python 3.11: BASE_IMAGE of deploy/Dockerfile
#   hbi-local/postgres:15        stand-ins for the official images, honouring the same variables,
#   hbi-local/minio:<release>    ports, volumes and health-check commands (deploy/local/*);
#   hbi-local/neo4j:<version>    deploy/docker-compose.local.yml puts them in the stack
#   hbi-local/prometheus:2.42    Debian's Prometheus, for the monitoring profile (no Grafana:
#                                Debian has none)
#   $HBI_IMAGE (hbi:<version>)   the HBI image from deploy/Dockerfile on hbi-local/python
#   deploy/local-images.sh            build what is missing or changed (Docker's layer cache)
# Needs a Docker engine, root (mmdebstrap, apt) and the repository's .venv (scripts/bootstrap.sh
# makes it and provisions MinIO and Neo4j).
set -euo pipefail
deploy_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_dir="$(dirname "$deploy_dir")"
cd "$repo_dir"

say() { echo "[local-images] $*"; }

[ -x .venv/bin/python ] || scripts/bootstrap.sh
# The stand-ins carry the very releases HBI's local stack runs; the compose override names the
# same versions (tests/deploy checks both against hbi/stack/provision.py).
read -r minio_binary minio_release neo4j_lib neo4j_version < <(.venv/bin/python -c '
from hbi.stack.provision import MINIO_RELEASE, NEO4J_VERSION, minio_install, neo4j_install
print(minio_install().binary, MINIO_RELEASE, neo4j_install().lib_dir, NEO4J_VERSION)')
hbi_version="$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)"
hbi_image="${HBI_IMAGE:-hbi:$hbi_version}"

base=hbi-local/base:bookworm
python=hbi-local/python:3.11

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if docker image inspect "$base" >/dev/null 2>&1; then
  say "$base exists; reusing it"
else
  if ! command -v mmdebstrap >/dev/null; then
    apt-get install -y --no-install-recommends mmdebstrap ||
      { apt-get update -q && apt-get install -y --no-install-recommends mmdebstrap; }
  fi
  say "building $base with mmdebstrap from this host's apt sources"
  sources=()
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -s "$file" ] && sources+=("$file")
  done
  # The host's own apt options (a snapshot's Check-Valid-Until, a proxy) are the files in
  # apt.conf.d that no package installed; the image's apt needs them to reach the same mirror.
  aptopts=()
  for file in /etc/apt/apt.conf.d/*; do
    dpkg -S "$file" >/dev/null 2>&1 || aptopts+=("--aptopt=$file")
  done
  # The host's CA bundle, and its local CAs too: a package that pulls in ca-certificates later
  # rebuilds the bundle from /usr/local/share/ca-certificates.
  hooks=(--customize-hook='mkdir -p "$1/etc/ssl/certs" "$1/usr/local/share/ca-certificates"'
    --customize-hook='copy-in /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs'
    --customize-hook='sync-in /usr/local/share/ca-certificates /usr/local/share/ca-certificates')
  for file in /etc/pip.conf; do
    [ -f "$file" ] && hooks+=(--customize-hook="copy-in $file /etc")
  done
  mmdebstrap --quiet --variant=minbase "${aptopts[@]}" "${hooks[@]}" bookworm "$work/base.tar" "${sources[@]}"
  docker import --change 'CMD ["/bin/bash"]' "$work/base.tar" "$base"
fi

build() {
  local tag="$1" context="$2"
  say "building $tag"
  docker build --quiet --build-arg LOCAL_BASE="$base" -t "$tag" "$context" >/dev/null
}

build "$python" "$deploy_dir/local/python"
build hbi-local/postgres:15 "$deploy_dir/local/postgres"
build hbi-local/prometheus:2.42 "$deploy_dir/local/prometheus"

cp -r "$deploy_dir/local/minio" "$work/minio"
cp "$minio_binary" "$work/minio/minio"
build "hbi-local/minio:$minio_release" "$work/minio"

cp -r "$deploy_dir/local/neo4j" "$work/neo4j"
cp -r "$neo4j_lib" "$work/neo4j/lib"
build "hbi-local/neo4j:$neo4j_version" "$work/neo4j"

# The context is exactly the files deploy/Dockerfile copies, whatever else the working tree holds.
say "building $hbi_image from deploy/Dockerfile on $python"
tar -c --exclude=__pycache__ --exclude='*.pyc' -f - deploy/Dockerfile pyproject.toml README.md \
    requirements/runtime.lock requirements/model.lock hbi hbi_assets hbi_resources |
  docker build --quiet --build-arg BASE_IMAGE="$python" -f deploy/Dockerfile -t "$hbi_image" - >/dev/null
say "done: $base $python hbi-local/postgres:15 hbi-local/prometheus:2.42 hbi-local/minio:$minio_release hbi-local/neo4j:$neo4j_version $hbi_image"
