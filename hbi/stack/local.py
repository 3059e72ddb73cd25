"""The local stack: one MinIO and one Neo4j on loopback, their state kept under HBI_HOME/stack.

Ports and randomly generated credentials are chosen on the first `up` and kept in
`stack.json` (mode 0600), so every later start, `hbi stack env` and HBI's resources agree on
them. A server whose variable (`HBI_MINIO_ENDPOINT`, `HBI_NEO4J_URI`) the user points elsewhere
is external: the stack neither starts nor stops it, it only checks that it answers.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hbi import config
from hbi.stack import process
from hbi.stack.minio_server import MinioServer
from hbi.stack.neo4j_server import NEO4J_USER, Neo4jServer

DEFAULT_PORTS = {"minio": 9000, "minio_console": 9001, "neo4j_bolt": 7687}
PORT_ENV = {
    "minio": "HBI_MINIO_PORT",
    "minio_console": "HBI_MINIO_CONSOLE_PORT",
    "neo4j_bolt": "HBI_NEO4J_BOLT_PORT",
}


@dataclass(frozen=True)
class ServerState:
    """What `hbi stack status` reports for one server."""

    name: str
    state: str  # "running", "stopped" or "external"
    endpoint: str
    data_dir: str | None
    pid: int | None = None
    version: str | None = None


def _choose_port(name: str) -> int:
    explicit = os.environ.get(PORT_ENV[name])
    if explicit:
        return int(explicit)
    default = DEFAULT_PORTS[name]
    return process.free_port() if process.port_in_use(default) else default


class LocalStack:
    """The MinIO and Neo4j servers of one HBI_HOME."""

    def __init__(self, home: Path | None = None):
        self.layout = config.HomeLayout(home) if home else config.layout()
        # Server data, logs and credentials: readable by the owner only.
        self.layout.stack.mkdir(parents=True, exist_ok=True)
        self.layout.stack.chmod(0o700)
        self.state_file = self.layout.stack / "stack.json"
        self.settings = self._load_or_create_settings()
        minio = self.settings["minio"]
        neo = self.settings["neo4j"]
        self.minio = MinioServer(
            self.layout.stack / "minio",
            minio["port"],
            minio["console_port"],
            minio["access_key"],
            minio["secret_key"],
        )
        self.neo4j = Neo4jServer(
            self.layout.stack / "neo4j",
            neo["bolt_port"],
            neo["password"],
            heap=os.environ.get("HBI_NEO4J_HEAP", "512m"),
            page_cache=os.environ.get("HBI_NEO4J_PAGECACHE", "256m"),
        )

    def _load_or_create_settings(self) -> dict:
        if self.state_file.exists():
            return json.loads(self.state_file.read_text())
        settings = {
            "minio": {
                "port": _choose_port("minio"),
                "console_port": _choose_port("minio_console"),
                "access_key": "hbi-" + secrets.token_hex(6),
                "secret_key": secrets.token_urlsafe(30),
            },
            "neo4j": {
                "bolt_port": _choose_port("neo4j_bolt"),
                # Never starting with "-": neo4j-admin would read such a password as an option.
                "password": "n" + secrets.token_urlsafe(24),
            },
        }
        self.layout.stack.mkdir(parents=True, exist_ok=True)
        self._write_private(self.state_file, json.dumps(settings, indent=2))
        return settings

    @staticmethod
    def _write_private(path: Path, text: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)

    def minio_external(self) -> bool:
        """Return whether the user points HBI at a MinIO other than this stack's."""
        endpoint = os.environ.get(config.ENV_MINIO_ENDPOINT)
        return bool(endpoint) and endpoint != self.minio.endpoint

    def neo4j_external(self) -> bool:
        """Return whether the user points HBI at a Neo4j other than this stack's."""
        uri = os.environ.get(config.ENV_NEO4J_URI)
        return bool(uri) and uri != self.neo4j.uri

    def env(self) -> dict[str, str]:
        """Return the connection variables HBI's resources read, for this stack's servers."""
        values = {
            "HBI_HOME": str(self.layout.root),
            "DAGSTER_HOME": str(self.layout.dagster_home),
            config.ENV_BOOKS_BUCKET: os.environ.get(
                config.ENV_BOOKS_BUCKET, config.DEFAULT_BOOKS_BUCKET
            ),
            config.ENV_BACKUPS_BUCKET: os.environ.get(
                config.ENV_BACKUPS_BUCKET, config.DEFAULT_BACKUPS_BUCKET
            ),
            config.ENV_NEO4J_DATABASE: os.environ.get(
                config.ENV_NEO4J_DATABASE, config.DEFAULT_NEO4J_DATABASE
            ),
        }
        if self.minio_external():
            for key in (
                config.ENV_MINIO_ENDPOINT,
                config.ENV_MINIO_ACCESS_KEY,
                config.ENV_MINIO_SECRET_KEY,
                config.ENV_MINIO_SECURE,
            ):
                if key in os.environ:
                    values[key] = os.environ[key]
        else:
            values.update(
                {
                    config.ENV_MINIO_ENDPOINT: self.minio.endpoint,
                    config.ENV_MINIO_ACCESS_KEY: self.minio.access_key,
                    config.ENV_MINIO_SECRET_KEY: self.minio.secret_key,
                    config.ENV_MINIO_SECURE: "false",
                }
            )
        if self.neo4j_external():
            for key in (config.ENV_NEO4J_URI, config.ENV_NEO4J_USER, config.ENV_NEO4J_PASSWORD):
                if key in os.environ:
                    values[key] = os.environ[key]
        else:
            values.update(
                {
                    config.ENV_NEO4J_URI: self.neo4j.uri,
                    config.ENV_NEO4J_USER: NEO4J_USER,
                    config.ENV_NEO4J_PASSWORD: self.neo4j.password,
                }
            )
        return values

    def client_env(self) -> dict[str, str]:
        """Return env() plus the variables the MinIO client (mc) and cypher-shell read."""
        values = self.env()
        scheme = "https" if values.get(config.ENV_MINIO_SECURE) == "true" else "http"
        if config.ENV_MINIO_ACCESS_KEY in values:
            values["MC_HOST_hbi"] = (
                f"{scheme}://{values[config.ENV_MINIO_ACCESS_KEY]}:"
                f"{values[config.ENV_MINIO_SECRET_KEY]}@{values[config.ENV_MINIO_ENDPOINT]}"
            )
        if config.ENV_NEO4J_URI in values:
            values["NEO4J_ADDRESS"] = values[config.ENV_NEO4J_URI]
            values["NEO4J_USERNAME"] = values.get(config.ENV_NEO4J_USER, NEO4J_USER)
            values["NEO4J_PASSWORD"] = values.get(config.ENV_NEO4J_PASSWORD, "")
        return values

    def _write_env_file(self) -> None:
        lines = [f"{key}={value}" for key, value in self.env().items()]
        self._write_private(self.layout.stack_env_file, "\n".join(lines) + "\n")

    def up(self) -> list[ServerState]:
        """Start whichever local servers are not running (provisioning on first use)."""
        self._write_env_file()
        if not self.minio_external():
            self.minio.start()
        if not self.neo4j_external():
            self.neo4j.start()
        return self.status(with_versions=True)

    def down(self) -> list[str]:
        """Stop the local servers that run; return the names of those stopped."""
        stopped = []
        if not self.neo4j_external() and self.neo4j.stop():
            stopped.append("neo4j")
        if not self.minio_external() and self.minio.stop():
            stopped.append("minio")
        return stopped

    @contextmanager
    def stopped(self, name: str) -> Iterator[MinioServer | Neo4jServer]:
        """Stop one local server ("minio" or "neo4j") for the block, for fault drills.

        However the block ends, the server is started again and answers before this returns;
        the block may start it earlier itself (it is given the server) to play a restart.
        """
        server, external = {
            "minio": (self.minio, self.minio_external()),
            "neo4j": (self.neo4j, self.neo4j_external()),
        }[name]
        if external:
            raise process.StackError(f"{name} is external: the stack does not stop it")
        server.stop()
        try:
            yield server
        finally:
            server.start()

    def status(self, with_versions: bool = True) -> list[ServerState]:
        """Return each server's state, endpoint, data folder, pid and (when running) version."""
        states = []
        if self.minio_external():
            states.append(
                ServerState("minio", "external", os.environ[config.ENV_MINIO_ENDPOINT], None)
            )
        else:
            pid = self.minio.pid()
            states.append(
                ServerState(
                    "minio",
                    "running" if pid else "stopped",
                    self.minio.endpoint,
                    str(self.minio.data_dir),
                    pid,
                    self.minio.version() if pid else None,
                )
            )
        if self.neo4j_external():
            states.append(ServerState("neo4j", "external", os.environ[config.ENV_NEO4J_URI], None))
        else:
            pid = self.neo4j.pid()
            version = self.neo4j.version() if pid and with_versions else None
            states.append(
                ServerState(
                    "neo4j",
                    "running" if pid else "stopped",
                    self.neo4j.uri,
                    str(self.neo4j.data_dir),
                    pid,
                    version,
                )
            )
        return states
