"""Provision the local servers without Docker: MinIO built from its Go module, Neo4j from Maven.

Both land in the machine-wide cache (`HBI_CACHE_DIR`) under a folder named for the pinned
version, written to a temporary folder first and renamed into place, so a build happens once per
machine and an interrupted build never leaves a half-filled cache entry behind.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from hbi.config import cache_dir

# MinIO's release tags are not semver, so the Go module proxy knows each release by the
# pseudo-version of its tagged commit.
MINIO_RELEASE = "RELEASE.2025-09-07T16-13-09Z"
MINIO_COMMIT = "07c3a429bfed433e49018cb0f78a52145d4bedeb"
MINIO_MODULE_VERSION = "v0.0.0-20250907161309-07c3a429bfed"
MINIO_VERSION_STAMP = "2025-09-07T16:13:09Z"

# The Go that builds MinIO: its go.mod asks for go 1.24.0 (toolchain go1.24.2), and this later
# patch release of 1.24 has that line's security fixes. Any Go >= 1.21 on PATH fetches it itself
# (toolchain switching) through the configured GOPROXY, checked against GOSUMDB.
GO_TOOLCHAIN = "go1.24.8"
MIN_GO = (1, 21)

NEO4J_VERSION = "5.26.30"
JAVA_MAJORS = (17, 21)


class ProvisionError(RuntimeError):
    """A server could not be provisioned; the message says what is missing and how to fix it."""


@dataclass(frozen=True)
class MinioInstall:
    """A MinIO server binary and where it came from."""

    binary: Path
    source: str  # "cache", "PATH" or "HBI_MINIO_BIN"
    version: str


@dataclass(frozen=True)
class Neo4jInstall:
    """How to start a Neo4j Community server: our Maven classpath or a `neo4j` script on PATH."""

    source: str  # "cache" or "PATH"
    version: str
    lib_dir: Path | None = None
    script: Path | None = None

    def server_command(self, home: Path, conf_dir: Path, java: str) -> list[str]:
        if self.script is not None:
            return [str(self.script), "console"]
        return [
            java,
            *_java_module_flags(),
            "-cp",
            f"{self.lib_dir}/*",
            "org.neo4j.server.CommunityEntryPoint",
            f"--home-dir={home}",
            f"--config-dir={conf_dir}",
        ]

    def admin_command(self, java: str) -> list[str]:
        if self.script is not None:
            return [str(self.script.with_name("neo4j-admin"))]
        return [java, "-cp", f"{self.lib_dir}/*", "org.neo4j.cli.AdminTool"]


def _java_module_flags() -> list[str]:
    # The page cache and Netty use direct buffers; without these opens Neo4j falls back to a
    # slower path and logs warnings at every start.
    return [
        "--add-opens=java.base/java.nio=ALL-UNNAMED",
        "--add-opens=java.base/java.lang=ALL-UNNAMED",
        "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    ]


@contextmanager
def _cache_lock(name: str) -> Iterator[None]:
    """Serialise provisioning of one component across processes (tests, CLI, CI)."""
    lock_dir = cache_dir() / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _require_tool(tool: str, purpose: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ProvisionError(
            f"{tool} is not installed, and it is needed to {purpose}. Install it "
            f"(Debian/Ubuntu: see README 'Requirements'), or put the server on PATH."
        )
    return path


def _go_version(go: str) -> tuple[int, int]:
    # The version of this binary itself, not of a toolchain GOTOOLCHAIN in the caller's
    # environment would switch to.
    env = {**os.environ, "GOTOOLCHAIN": "local"}
    out = subprocess.run(
        [go, "version"], capture_output=True, text=True, check=True, env=env
    ).stdout
    match = re.search(r"go(\d+)\.(\d+)", out)
    if not match:
        raise ProvisionError(f"could not read the Go version from {out!r}")
    return int(match.group(1)), int(match.group(2))


def java_executable() -> str:
    """Return a Java 17 or 21 executable, or raise ProvisionError naming what is wrong."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise ProvisionError(
            "Java is not installed, and Neo4j 5.26 needs Java 17 or 21 "
            "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless)."
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)', out)
    major = int(match.group(1)) if match else 0
    if major not in JAVA_MAJORS:
        raise ProvisionError(f"Neo4j 5.26 needs Java 17 or 21, but {java} is Java {major}.")
    return java


def minio_install() -> MinioInstall:
    """Return the MinIO binary to run, building the pinned release into the cache if needed."""
    explicit = os.environ.get("HBI_MINIO_BIN")
    if explicit:
        return MinioInstall(Path(explicit), "HBI_MINIO_BIN", minio_binary_version(Path(explicit)))
    on_path = shutil.which("minio")
    if on_path:
        return MinioInstall(Path(on_path), "PATH", minio_binary_version(Path(on_path)))
    target = cache_dir() / "minio" / MINIO_RELEASE / "minio"
    with _cache_lock("minio"):
        if not target.exists():
            _build_minio(target)
    return MinioInstall(target, "cache", MINIO_RELEASE)


def minio_binary_version(binary: Path) -> str:
    """Return the release a MinIO binary reports with `--version`."""
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True).stdout
    match = re.search(r"version (\S+)", out)
    return match.group(1) if match else "unknown"


def go_build_env(gobin: str) -> dict[str, str]:
    """Return the environment MinIO is built in: static, into `gobin`, by the pinned toolchain."""
    return {**os.environ, "GOBIN": gobin, "CGO_ENABLED": "0", "GOTOOLCHAIN": GO_TOOLCHAIN}


def _build_minio(target: Path) -> None:
    go = _require_tool("go", f"build MinIO {MINIO_RELEASE} from its Go module")
    version = _go_version(go)
    if version < MIN_GO:
        raise ProvisionError(
            f"{go} is Go {version[0]}.{version[1]}, which cannot fetch the {GO_TOOLCHAIN} "
            f"toolchain MinIO is built with: toolchain switching needs Go >= 1.21. Install a newer "
            f"Go, or run scripts/bootstrap.sh, which fetches {GO_TOOLCHAIN} with the old one."
        )
    ldflags = " ".join(
        [
            "-s -w",
            f"-X github.com/minio/minio/cmd.Version={MINIO_VERSION_STAMP}",
            f"-X github.com/minio/minio/cmd.ReleaseTag={MINIO_RELEASE}",
            f"-X github.com/minio/minio/cmd.CommitID={MINIO_COMMIT}",
            f"-X github.com/minio/minio/cmd.ShortCommitID={MINIO_COMMIT[:12]}",
        ]
    )
    target.parent.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent.parent) as tmp:
        cmd = [
            go,
            "install",
            "-trimpath",
            f"-ldflags={ldflags}",
            f"github.com/minio/minio@{MINIO_MODULE_VERSION}",
        ]
        result = subprocess.run(cmd, env=go_build_env(tmp), capture_output=True, text=True)
        if result.returncode != 0:
            raise ProvisionError(f"building MinIO failed:\n{result.stderr[-4000:]}")
        staging = Path(tmp) / "release"
        staging.mkdir()
        (Path(tmp) / "minio").rename(staging / "minio")
        staging.rename(target.parent)


def neo4j_install() -> Neo4jInstall:
    """Return how to run Neo4j Community, resolving its jars from Maven Central if needed."""
    on_path = shutil.which("neo4j")
    if on_path:
        return Neo4jInstall("PATH", "from PATH", script=Path(on_path))
    lib = cache_dir() / "neo4j" / NEO4J_VERSION / "lib"
    with _cache_lock("neo4j"):
        if not lib.exists():
            _resolve_neo4j(lib)
    return Neo4jInstall("cache", NEO4J_VERSION, lib_dir=lib)


def _resolve_neo4j(lib: Path) -> None:
    java_executable()
    mvn = _require_tool("mvn", f"fetch Neo4j Community {NEO4J_VERSION} from Maven Central")
    pom = resources.files("hbi.stack").joinpath("neo4j-pom.xml").read_text()
    lib.parent.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=lib.parent.parent) as tmp:
        (Path(tmp) / "pom.xml").write_text(pom.replace("@NEO4J_VERSION@", NEO4J_VERSION))
        staging = Path(tmp) / "release"
        cmd = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(Path(tmp) / "pom.xml"),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging / 'lib'}",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise ProvisionError(
                f"fetching Neo4j from Maven failed:\n{(result.stdout + result.stderr)[-4000:]}"
            )
        staging.rename(lib.parent)
