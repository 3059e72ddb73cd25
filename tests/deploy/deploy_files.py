"""The files of deploy/ as the deployment tests read them: parsed, resolved and normalised.

Compose files are resolved by Compose itself (`docker-compose config`, Debian's package, or the
`docker compose` plugin where that is what the machine has); neither needs a Docker engine.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from hbi.config import read_env_file

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy"
COMPOSE_FILE = DEPLOY_DIR / "docker-compose.yml"
DAGSTER_YAML = DEPLOY_DIR / "dagster.yaml"
WORKSPACE_YAML = DEPLOY_DIR / "workspace.yaml"
ENV_EXAMPLE = DEPLOY_DIR / ".env.example"
DOCKERFILE = DEPLOY_DIR / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
PYPROJECT = REPO_ROOT / "pyproject.toml"

# What Compose must refuse to start without: the secrets, and the Docker socket's group.
REQUIRED_VARIABLES = (
    "DAGSTER_POSTGRES_PASSWORD",
    "HBI_MINIO_ACCESS_KEY",
    "HBI_MINIO_SECRET_KEY",
    "HBI_NEO4J_PASSWORD",
    "HBI_DOCKER_GID",
)
SECRET_VARIABLES = tuple(name for name in REQUIRED_VARIABLES if name != "HBI_DOCKER_GID")
# Values the tests fill in; distinctive, so a leak into the wrong place is easy to spot.
TEST_SECRETS = {
    "DAGSTER_POSTGRES_PASSWORD": "test-postgres-0d4c",
    "HBI_MINIO_ACCESS_KEY": "test-minio-user",
    "HBI_MINIO_SECRET_KEY": "test-minio-secret-7a21",
    "HBI_NEO4J_PASSWORD": "test-neo4j-9e3f",
    "HBI_DOCKER_GID": "998",
}
# `${NAME}`, `${NAME:-default}`, `${NAME:?message}` (and the forms without a colon); `$${` is an
# escaped dollar that Compose passes through to the container's shell.
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")
# A YAML comment: `#` at a line's start or after whitespace (`$${A#b}` in a command is no comment).
COMMENT = re.compile(r"(^|\s)#.*$", re.MULTILINE)
INSTALL_COMPOSE = "apt-get install -y --no-install-recommends docker-compose"


def pyproject() -> dict[str, Any]:
    """Return pyproject.toml, parsed."""
    return tomllib.loads(PYPROJECT.read_text())


def load_yaml(path: Path) -> Any:
    """Return a YAML file, parsed without any interpolation."""
    return yaml.safe_load(path.read_text())


def compose_variables(text: str) -> dict[str, set[str]]:
    """Return each variable a Compose file interpolates, with the operators it is used with."""
    found: dict[str, set[str]] = {}
    for match in VARIABLE.finditer(COMMENT.sub("", text)):
        found.setdefault(match.group(1), set()).add(match.group(2) or "")
    return found


def env_example() -> dict[str, str]:
    """Return deploy/.env.example's variables and values."""
    return read_env_file(ENV_EXAMPLE)


def write_env_file(path: Path, values: dict[str, str]) -> Path:
    """Write `KEY=value` lines, as Compose's --env-file reads them; return the path."""
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    return path


def compose_command() -> list[str]:
    """Return the Compose CLI to use, failing with the install command when there is none."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=60)
        if probe.returncode == 0:
            return [docker, "compose"]
    pytest.fail(f"no Compose CLI on PATH; install Debian's with `{INSTALL_COMPOSE}`")


def run_compose(
    env_file: Path,
    *args: str,
    timeout: float = 120,
    extra_env: dict[str, str] | None = None,
    extra_files: list[Path] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run Compose on deploy/docker-compose.yml (and extra_files, overriding it) with only
    env_file's variables; return the result.

    The environment is cleared (but for PATH, HOME and DOCKER_*) because Compose lets exported
    variables override the env file, and a developer's shell may hold HBI's local-stack exports.
    """
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    # Which engine to talk to (DOCKER_HOST, DOCKER_CONTEXT, ...) is the machine's, not HBI's.
    env.update({k: v for k, v in os.environ.items() if k.startswith("DOCKER_")})
    env.update(extra_env or {})
    files = [arg for path in [COMPOSE_FILE, *(extra_files or [])] for arg in ("-f", str(path))]
    command = [*compose_command(), "--env-file", str(env_file), *files, *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)


def resolved_compose(env_file: Path, *profiles: str) -> dict[str, Any]:
    """Return the Compose file as Compose resolves it (`config`) with these profiles active,
    failing on any error."""
    options = [arg for profile in profiles for arg in ("--profile", profile)]
    result = run_compose(env_file, *options, "config")
    assert result.returncode == 0, f"compose config failed:\n{result.stdout}{result.stderr}"
    return yaml.safe_load(result.stdout)


@dataclass(frozen=True)
class Mount:
    """One volume entry of a service, in the same shape whichever Compose resolved it."""

    kind: str  # "volume" or "bind"
    source: str
    target: str
    read_only: bool


def service_mounts(service: dict[str, Any]) -> list[Mount]:
    """Return a resolved service's mounts (Compose v1 prints strings, v2 mappings)."""
    mounts = []
    for entry in service.get("volumes", []):
        if isinstance(entry, dict):
            mounts.append(
                Mount(
                    entry["type"],
                    entry["source"],
                    entry["target"],
                    bool(entry.get("read_only", False)),
                )
            )
            continue
        parts = entry.split(":")
        source, target = parts[0], parts[1]
        mode = parts[2] if len(parts) > 2 else "rw"
        kind = "bind" if source.startswith(("/", ".", "~")) else "volume"
        mounts.append(Mount(kind, source, target, "ro" in mode.split(",")))
    return mounts


@dataclass(frozen=True)
class PublishedPort:
    """One published port of a service: the host address and port, and the container's port."""

    host_ip: str
    published: int
    target: int


def published_ports(service: dict[str, Any]) -> list[PublishedPort]:
    """Return a resolved service's published ports (Compose v1 prints strings, v2 mappings)."""
    ports = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            ports.append(
                PublishedPort(
                    entry.get("host_ip", ""), int(entry["published"]), int(entry["target"])
                )
            )
            continue
        spec = entry.split("/")[0]
        host_ip, published, target = (
            spec.rsplit(":", 2) if spec.count(":") >= 2 else ("", *spec.split(":"))
        )
        ports.append(PublishedPort(host_ip, int(published), int(target)))
    return ports


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: its keyword (upper case) and its arguments as written."""

    keyword: str
    arguments: str

    def exec_form(self) -> list[str]:
        """Return the JSON (exec) form's arguments of CMD/ENTRYPOINT/RUN."""
        return json.loads(self.arguments)

    def flags_and_words(self) -> tuple[dict[str, str], list[str]]:
        """Return `--flag=value` options and the remaining words (as COPY and FROM take them)."""
        flags: dict[str, str] = {}
        words = []
        for word in shlex.split(self.arguments):
            if word.startswith("--") and "=" in word:
                key, value = word[2:].split("=", 1)
                flags[key] = value
            else:
                words.append(word)
        return flags, words


@dataclass(frozen=True)
class Stage:
    """One build stage: its base image, its name (if any) and its instructions."""

    base: str
    name: str | None
    instructions: tuple[Instruction, ...]

    def all(self, keyword: str) -> list[Instruction]:
        """Return the stage's instructions with this keyword, in order."""
        return [i for i in self.instructions if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        """Return the variables the stage's ENV instructions set (`KEY=value` form)."""
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for word in shlex.split(instruction.arguments):
                key, _, value = word.partition("=")
                values[key] = value
        return values


def dockerfile_instructions(text: str) -> list[Instruction]:
    """Return a Dockerfile's instructions, with continuations joined and comments dropped."""
    instructions = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = pending + line
        pending = ""
        keyword, _, arguments = full.partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
    return instructions


def dockerfile_stages(text: str) -> list[Stage]:
    """Return a Dockerfile's build stages in order; the last one is the image."""
    stages: list[Stage] = []
    current: list[Instruction] = []
    base, name = "", None
    for instruction in dockerfile_instructions(text):
        if instruction.keyword == "FROM":
            if base:
                stages.append(Stage(base, name, tuple(current)))
            _, words = instruction.flags_and_words()
            base = words[0]
            name = words[2] if len(words) == 3 and words[1].lower() == "as" else None
            current = []
        elif base:
            current.append(instruction)
    stages.append(Stage(base, name, tuple(current)))
    return stages


def option_value(command: list[str], *names: str) -> str | None:
    """Return the value given to any of the options `names` in an argv list."""
    for index, word in enumerate(command):
        for name in names:
            if word == name and index + 1 < len(command):
                return command[index + 1]
            if word.startswith(name + "="):
                return word.split("=", 1)[1]
    return None


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$", re.IGNORECASE)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)")
_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


def byte_size(value: int | str) -> int:
    """Return a Compose or docker-py memory size (`512m`, `2g`, bytes) in bytes."""
    match = _SIZE.match(str(value).strip())
    assert match, f"not a memory size: {value!r}"
    number, unit = match.groups()
    return int(float(number) * 1024 ** "bkmgt".index(unit.lower() or "b"))


def duration_seconds(value: int | float | str) -> float:
    """Return a Compose duration (`90s`, `1m30s`; Compose v2 prints the latter) in seconds."""
    text = str(value).strip()
    parts = _DURATION_PART.findall(text)
    assert parts and "".join(n + u for n, u in parts) == text, f"not a duration: {value!r}"
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)
