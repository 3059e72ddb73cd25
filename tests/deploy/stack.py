"""A throwaway deploy/ stack on a real Docker engine, for the tests marked `docker`.

The images come from deploy/local-images.sh (Debian packages and what `hbi stack provision`
fetched, no Docker Hub) and deploy/docker-compose.local.yml puts them in the stack; secrets are
random, published ports free. The stack uses the deployment's fixed volume and network names, so
a test refuses to start one on an engine that already hosts an HBI deployment.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from deploy_files import DEPLOY_DIR, env_example, pyproject, run_compose, write_env_file

from hbi.stack.process import free_port

FIXED_NAMES = ("hbi_net", "hbi_data", "hbi_dagster_storage", "hbi_postgres_data", "hbi_minio_data")
LOCAL_OVERRIDE = "docker-compose.local.yml"
SERVICES = (
    "postgres",
    "minio",
    "neo4j",
    "hbi-code",
    "dagster-webserver",
    "dagster-daemon",
    "hbi-api",
)
RUN_WORKER = "label=org.hbi.role=run-worker"
BUILD_TIMEOUT = 1800
HEALTHY_TIMEOUT = 600


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the docker CLI; return the result."""
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def require_engine() -> None:
    """Fail unless a Docker engine answers and hosts no HBI deployment."""
    answers = shutil.which("docker") is not None and docker("info").returncode == 0
    if not answers:
        pytest.fail("no Docker engine answers `docker info`; deploy/e2e.sh shows how to start one")
    taken = [name for name in FIXED_NAMES if docker("inspect", name).returncode == 0]
    if taken:
        pytest.fail(f"this Docker engine already has {taken}: an HBI deployment; not touching it")


def build_images(image: str) -> None:
    """Build every image of the stack with deploy/local-images.sh, the HBI image as `image`."""
    built = subprocess.run(
        [str(DEPLOY_DIR / "local-images.sh")],
        capture_output=True,
        text=True,
        env={**os.environ, "HBI_IMAGE": image},
        timeout=BUILD_TIMEOUT,
    )
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]


@dataclass
class Stack:
    """One stack: its env file, its values and the compose files it is run with."""

    env_file: Path
    values: dict[str, str]
    overrides: list[Path] = field(default_factory=list)

    @classmethod
    def create(cls, folder: Path, project: str) -> Stack:
        """Write an env file with random secrets, free ports and a test image tag."""
        values = env_example() | {
            "COMPOSE_PROJECT_NAME": project,
            "HBI_IMAGE": f"{project}:{pyproject()['project']['version']}",
            "DAGSTER_POSTGRES_PASSWORD": secrets.token_hex(16),
            "HBI_MINIO_ACCESS_KEY": project,
            "HBI_MINIO_SECRET_KEY": secrets.token_hex(16),
            "HBI_NEO4J_PASSWORD": secrets.token_hex(16),
            "HBI_DOCKER_GID": str(Path("/var/run/docker.sock").stat().st_gid),
            "HBI_PUBLISH_UI_PORT": str(free_port()),
            "HBI_PUBLISH_API_PORT": str(free_port()),
            "HBI_PUBLISH_CONSOLE_PORT": str(free_port()),
        }
        return cls(write_env_file(folder / "stack.env", values), values)

    def compose(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run Compose on the stack's files; return the result."""
        files = [DEPLOY_DIR / LOCAL_OVERRIDE, *self.overrides]
        return run_compose(self.env_file, *args, timeout=timeout, extra_files=files)

    def scripts_env(self) -> dict[str, str]:
        """The environment deploy/backup.sh and restore.sh need to run on this stack."""
        names = ":".join(["docker-compose.yml", LOCAL_OVERRIDE, *map(str, self.overrides)])
        return {
            **os.environ,
            "HBI_ENV_FILE": str(self.env_file),
            "HBI_COMPOSE_FILES": names,
            "HBI_DRAIN_TIMEOUT": "600",
        }

    def up(self) -> None:
        """Start every service and wait until each is healthy (hbi-init: exited 0)."""
        started = self.compose("up", "-d", timeout=HEALTHY_TIMEOUT)
        assert started.returncode == 0, started.stdout[-4000:] + started.stderr[-4000:]
        self.wait_healthy()

    def down(self) -> None:
        """Remove the stack, its volumes and any run container."""
        leftover = docker("ps", "-aq", "--filter", RUN_WORKER).stdout.split()
        if leftover:
            docker("rm", "-f", *leftover)
        self.compose("down", "--volumes", "--remove-orphans")

    def health(self, service: str) -> str:
        """Return a service's health, or `exited:<code>` for one without a health check."""
        ids = self.compose("ps", "-q", service).stdout.split()
        if not ids:
            return "missing"
        state = json.loads(docker("inspect", "--format", "{{json .State}}", ids[0]).stdout)
        if "Health" in state:
            return state["Health"]["Status"]
        return f"{state['Status']}:{state['ExitCode']}"

    def wait_healthy(self) -> float:
        """Wait until every service is healthy and hbi-init exited 0; return the seconds waited."""
        started = time.monotonic()
        waiting: list[str] = []
        while time.monotonic() - started < HEALTHY_TIMEOUT:
            waiting = [s for s in SERVICES if self.health(s) != "healthy"]
            if self.health("hbi-init") != "exited:0":
                waiting.append("hbi-init")
            if not waiting:
                return time.monotonic() - started
            time.sleep(2)
        logs = self.compose("logs", "--tail", "40").stdout
        pytest.fail(f"not healthy after {HEALTHY_TIMEOUT}s: {waiting}\n{logs[-8000:]}")

    def client(self, *args: str, mounts: tuple[str, ...] = (), timeout: float = 900) -> str:
        """Run deploy/e2e_client.py in the HBI image on the stack's network; return its output."""
        volumes = [f"{DEPLOY_DIR / 'e2e_client.py'}:/e2e_client.py:ro", *mounts]
        command = ["run", "--rm", "--network", "hbi_net", "--user", "0"]
        for volume in volumes:
            command += ["-v", volume]
        command += [
            "-e", "HBI_MINIO_ENDPOINT=minio:9000",
            "-e", f"HBI_MINIO_ACCESS_KEY={self.values['HBI_MINIO_ACCESS_KEY']}",
            "-e", f"HBI_MINIO_SECRET_KEY={self.values['HBI_MINIO_SECRET_KEY']}",
            "-e", f"HBI_E2E_TIMEOUT={timeout}",
            self.values["HBI_IMAGE"], "python", "/e2e_client.py", *args,
        ]  # fmt: skip
        result = docker(*command, timeout=timeout + 60)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def in_code_server(self, code: str) -> str:
        """Run Python in the code server's container; return what it printed."""
        result = self.compose("exec", "-T", "hbi-code", "python", "-c", code, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout.strip()


def run_workers(job: str) -> list[dict]:
    """Return the run containers of a job that exist now: id, run id, state and mounts."""
    ids = docker(
        "ps", "-aq", "--filter", RUN_WORKER, "--filter", f"label=dagster/job_name={job}"
    ).stdout.split()
    if not ids:
        return []
    inspected = docker("inspect", *ids)
    if inspected.returncode != 0:  # one finished and was removed meanwhile
        return run_workers(job)
    return [
        {
            "id": c["Id"][:12],
            "name": c["Name"].lstrip("/"),
            "run_id": c["Config"]["Labels"]["dagster/run_id"],
            "running": c["State"]["Running"],
            "volumes": sorted(m.get("Name", m["Source"]) for m in c["Mounts"]),
        }
        for c in json.loads(inspected.stdout)
    ]
