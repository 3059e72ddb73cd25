"""Run a MinIO server on loopback from HBI's own data folder."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from hbi.stack import process
from hbi.stack.provision import minio_binary_version, minio_install


@dataclass(frozen=True)
class MinioServer:
    """One MinIO server: its folder under HBI_HOME/stack, ports and root credentials."""

    root: Path
    port: int
    console_port: int
    access_key: str
    secret_key: str

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "minio.log"

    @property
    def pid_file(self) -> Path:
        return self.root / "minio.pid"

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def pid(self) -> int | None:
        return process.running_pid(self.pid_file, str(self.data_dir))

    def version(self) -> str | None:
        """Return the version of the running server's binary, or None when it is stopped."""
        pid = self.pid()
        if pid is None:
            return None
        return minio_binary_version(Path(os.readlink(f"/proc/{pid}/exe")))

    def live(self) -> bool:
        """Return whether the S3 endpoint's liveness probe answers."""
        url = f"http://{self.endpoint}/minio/health/live"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def start(self, timeout: float = 60.0) -> str:
        """Start the server (building MinIO on first use) and return the version it runs."""
        install = minio_install()
        spawned = None
        if self.pid() is None:
            for port in (self.port, self.console_port):
                if process.port_in_use(port):
                    raise process.StackError(
                        f"port {port} on 127.0.0.1 is taken by another program; "
                        "set HBI_MINIO_PORT / HBI_MINIO_CONSOLE_PORT to free ports"
                    )
            self.data_dir.mkdir(parents=True, exist_ok=True)
            env = {
                **os.environ,
                "MINIO_ROOT_USER": self.access_key,
                "MINIO_ROOT_PASSWORD": self.secret_key,
                "MINIO_UPDATE": "off",
                "MINIO_BROWSER": "on",
            }
            cmd = [
                str(install.binary),
                "server",
                str(self.data_dir),
                "--address",
                self.endpoint,
                "--console-address",
                f"127.0.0.1:{self.console_port}",
            ]
            spawned = process.spawn(
                cmd, env=env, log_file=self.log_file, pid_file=self.pid_file, cwd=self.root
            )
        process.wait_until(
            self.live,
            timeout=timeout,
            what="MinIO",
            # Until exec, a fresh child's cmdline is still Python's: ask the child itself.
            alive=(lambda: spawned.poll() is None) if spawned else (lambda: self.pid() is not None),
            log_file=self.log_file,
        )
        return install.version

    def stop(self) -> bool:
        """Stop the server if it runs; return whether it was running."""
        pid = self.pid()
        if pid is None:
            return False
        process.stop(pid, self.pid_file)
        return True
