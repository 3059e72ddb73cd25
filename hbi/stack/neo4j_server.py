"""Run a Neo4j Community server on loopback from HBI's own data folder."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import neo4j
from neo4j.exceptions import AuthError, ServiceUnavailable

from hbi.stack import process
from hbi.stack.provision import Neo4jInstall, ProvisionError, java_executable, neo4j_install

NEO4J_USER = "neo4j"


@dataclass(frozen=True)
class Neo4jServer:
    """One Neo4j server: its folder under HBI_HOME/stack, Bolt port, password and memory."""

    root: Path
    bolt_port: int
    password: str
    heap: str = "512m"
    page_cache: str = "256m"

    @property
    def conf_dir(self) -> Path:
        return self.root / "conf"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "logs" / "console.log"

    @property
    def pid_file(self) -> Path:
        return self.root / "neo4j.pid"

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    def pid(self) -> int | None:
        return process.running_pid(self.pid_file, str(self.conf_dir))

    def _write_conf(self) -> None:
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        settings = {
            "server.default_listen_address": "127.0.0.1",
            "server.default_advertised_address": "127.0.0.1",
            "server.bolt.listen_address": f"127.0.0.1:{self.bolt_port}",
            "server.http.enabled": "false",
            "server.https.enabled": "false",
            "server.directories.data": str(self.data_dir),
            "server.directories.logs": str(self.root / "logs"),
            "server.directories.run": str(self.root / "run"),
            "server.directories.import": str(self.root / "import"),
            "server.memory.heap.initial_size": self.heap,
            "server.memory.heap.max_size": self.heap,
            "server.memory.pagecache.size": self.page_cache,
            "dbms.security.auth_enabled": "true",
            "dbms.usage_report.enabled": "false",
        }
        body = "".join(f"{key}={value}\n" for key, value in settings.items())
        (self.conf_dir / "neo4j.conf").write_text(
            "# Written by `hbi stack up` at every start; edit HBI's settings, not this file.\n"
            + body
        )

    def _env(self, install: Neo4jInstall) -> dict[str, str]:
        env = {**os.environ, "NEO4J_CONF": str(self.conf_dir)}
        if install.script is None:
            # Our classpath install has no distribution folder; this server's folder is its home.
            env["NEO4J_HOME"] = str(self.root)
        return env

    def _set_initial_password(self, install: Neo4jInstall, java: str) -> None:
        # The password is set before the first start, so the server never runs with neo4j/neo4j.
        if (self.data_dir / "dbms" / "auth.ini").exists() or (self.data_dir / "databases").exists():
            return
        # The password goes through an argument file (picocli's @file), readable by this user
        # only and deleted at once: on the command line any local user could read it.
        arguments = self.root / "initial-password.args"
        quoted = self.password.replace("\\", "\\\\").replace('"', '\\"')
        descriptor = os.open(arguments, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(f'"{quoted}"\n')
            cmd = [*install.admin_command(java), "dbms", "set-initial-password", f"@{arguments}"]
            result = subprocess.run(cmd, env=self._env(install), capture_output=True, text=True)
        finally:
            arguments.unlink(missing_ok=True)
        if result.returncode != 0:
            raise ProvisionError(f"setting Neo4j's initial password failed:\n{result.stderr}")

    def _bolt_ready(self) -> bool:
        try:
            with neo4j.GraphDatabase.driver(self.uri, auth=(NEO4J_USER, self.password)) as driver:
                driver.verify_connectivity()
            return True
        except (ServiceUnavailable, OSError):
            return False
        except AuthError as exc:
            raise process.StackError(
                f"Neo4j at {self.uri} rejected HBI's credentials: {exc.message}"
            ) from exc

    def version(self) -> str:
        """Return the running server's version and edition, as Bolt reports them."""
        with neo4j.GraphDatabase.driver(self.uri, auth=(NEO4J_USER, self.password)) as driver:
            records, _, _ = driver.execute_query(
                "CALL dbms.components() YIELD versions, edition RETURN versions[0] AS v, edition"
            )
        return f"{records[0]['v']} {records[0]['edition']}"

    def start(self, timeout: float = 120.0) -> str:
        """Start the server (fetching Neo4j on first use), wait for Bolt, return its version."""
        install = neo4j_install()
        java = java_executable() if install.script is None else "java"
        spawned = None
        if self.pid() is None:
            if process.port_in_use(self.bolt_port):
                raise process.StackError(
                    f"port {self.bolt_port} on 127.0.0.1 is taken by another program; "
                    "set HBI_NEO4J_BOLT_PORT to a free port"
                )
            self._write_conf()
            self._set_initial_password(install, java)
            heap_flags = [f"-Xms{self.heap}", f"-Xmx{self.heap}"] if install.script is None else []
            cmd = install.server_command(self.root, self.conf_dir, java)
            cmd = cmd[:1] + heap_flags + cmd[1:]
            spawned = process.spawn(
                cmd,
                env=self._env(install),
                log_file=self.log_file,
                pid_file=self.pid_file,
                cwd=self.root,
            )
        process.wait_until(
            self._bolt_ready,
            timeout=timeout,
            what="Neo4j",
            # Until exec, a fresh child's cmdline is still Python's: ask the child itself.
            alive=(lambda: spawned.poll() is None) if spawned else (lambda: self.pid() is not None),
            log_file=self.log_file,
        )
        return self.version()

    def stop(self) -> bool:
        """Stop the server if it runs; return whether it was running."""
        pid = self.pid()
        if pid is None:
            return False
        process.stop(pid, self.pid_file, timeout=90.0)
        return True
