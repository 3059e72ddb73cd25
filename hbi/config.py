"""Where HBI keeps its state and which environment variables configure it.

Everything HBI writes lives under `HBI_HOME` (default `~/.hbi`): the local stack's data and
credentials, the SQLite index, the DuckDB catalog and `DAGSTER_HOME`. Built server binaries and
jars live in `HBI_CACHE_DIR` (default `~/.cache/hbi`), shared by every HBI_HOME on the machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# The variables HBI's resources read; `hbi stack env` prints exactly these.
ENV_MINIO_ENDPOINT = "HBI_MINIO_ENDPOINT"
ENV_MINIO_ACCESS_KEY = "HBI_MINIO_ACCESS_KEY"
ENV_MINIO_SECRET_KEY = "HBI_MINIO_SECRET_KEY"
ENV_MINIO_SECURE = "HBI_MINIO_SECURE"
ENV_BOOKS_BUCKET = "HBI_BOOKS_BUCKET"
ENV_BACKUPS_BUCKET = "HBI_BACKUPS_BUCKET"
ENV_NEO4J_URI = "HBI_NEO4J_URI"
ENV_NEO4J_USER = "HBI_NEO4J_USER"
ENV_NEO4J_PASSWORD = "HBI_NEO4J_PASSWORD"
ENV_NEO4J_DATABASE = "HBI_NEO4J_DATABASE"

DEFAULT_BOOKS_BUCKET = "books"
DEFAULT_BACKUPS_BUCKET = "backups"
DEFAULT_NEO4J_DATABASE = "neo4j"

# Neo4j as the API and searches read it. A stopped server must fail a read in about a second: with
# the writers' settings (10 s to connect, 10 s of transaction retries) each read held an API worker
# for 13-17 s, and 60 of them starved searches that never touch Neo4j.
NEO4J_READ_CONNECT_TIMEOUT_S = 2.0
NEO4J_READ_ACQUISITION_TIMEOUT_S = 3.0
NEO4J_READ_RETRY_S = 1.0
# The API's breaker: after this many reads in a row cannot reach Neo4j, it answers 503 at once for
# NEO4J_BREAKER_OPEN_S, then lets one read through to see whether the server is back.
NEO4J_BREAKER_FAILURES = 3
NEO4J_BREAKER_OPEN_S = 5.0


def neo4j_settings() -> dict[str, str]:
    """Return the Neo4j connection settings from the environment (KeyError when unset)."""
    env = os.environ
    return {
        "uri": env[ENV_NEO4J_URI],
        "user": env.get(ENV_NEO4J_USER, "neo4j"),
        "password": env[ENV_NEO4J_PASSWORD],
        "database": env.get(ENV_NEO4J_DATABASE, DEFAULT_NEO4J_DATABASE),
    }


def hbi_home() -> Path:
    """Return the root of this HBI installation's state (`HBI_HOME`, default `~/.hbi`)."""
    return Path(os.environ.get("HBI_HOME") or "~/.hbi").expanduser().resolve()


def cache_dir() -> Path:
    """Return the machine-wide cache for built servers and models (`HBI_CACHE_DIR`)."""
    explicit = os.environ.get("HBI_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return (Path(xdg).expanduser() / "hbi").resolve()


@dataclass(frozen=True)
class HomeLayout:
    """The files and folders of one HBI_HOME."""

    root: Path

    @property
    def stack(self) -> Path:
        return self.root / "stack"

    @property
    def stack_env_file(self) -> Path:
        return self.stack / "stack.env"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster"

    @property
    def index_db(self) -> Path:
        return self.root / "index" / "hbi.sqlite"

    @property
    def catalog_db(self) -> Path:
        return self.root / "catalog" / "catalog.duckdb"

    @property
    def query_log(self) -> Path:
        return self.root / "catalog" / "queries.duckdb"


def layout() -> HomeLayout:
    """Return the layout of the current HBI_HOME."""
    return HomeLayout(hbi_home())


def read_env_file(path: Path) -> dict[str, str]:
    """Return the variables of a file of `KEY=value` lines (as `hbi stack up` writes them)."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip()
    return values


def load_stack_env() -> dict[str, str]:
    """Fill unset HBI connection variables from the local stack's env file; return what was set.

    Variables already in the environment win, so external servers configured by the user are
    never overridden by the local stack's settings.
    """
    applied = {}
    for key, value in read_env_file(layout().stack_env_file).items():
        if key not in os.environ:
            os.environ[key] = value
            applied[key] = value
    os.environ.setdefault("DAGSTER_HOME", str(layout().dagster_home))
    return applied
