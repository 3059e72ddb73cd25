"""Provisioning says clearly what is missing instead of failing obscurely."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hbi.stack.provision import (
    GO_TOOLCHAIN,
    MINIO_RELEASE,
    ProvisionError,
    go_build_env,
    minio_install,
    neo4j_install,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
# Hosts the stack may name: the loopback servers it starts, or a host filled in at run time.
LOCAL_HOST = re.compile(r"(127\.0\.0\.1|localhost|\{)")


def _fake_go(folder: Path, version: str) -> Path:
    """Write a `go` that reports `version`, and whose `install` records GOTOOLCHAIN and a binary."""
    go = folder / "go"
    go.write_text(
        "#!/bin/sh\n"
        f'[ "$1" = version ] && {{ echo "go version {version} linux/amd64"; exit 0; }}\n'
        f'echo "$GOTOOLCHAIN" > "{folder}/gotoolchain"\n'
        ': > "$GOBIN/minio"\n'
    )
    go.chmod(0o755)
    return go


def test_missing_go_is_named(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HBI_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("HBI_MINIO_BIN", raising=False)
    with pytest.raises(ProvisionError, match="go is not installed"):
        minio_install()


def test_missing_maven_is_named(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HBI_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ProvisionError, match="(mvn|Java) is not installed"):
        neo4j_install()


def test_explicit_minio_binary_wins(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "minio"
    fake.write_text("#!/bin/sh\necho 'minio version RELEASE.TEST'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("HBI_MINIO_BIN", str(fake))
    install = minio_install()
    assert (install.binary, install.source, install.version) == (
        fake,
        "HBI_MINIO_BIN",
        "RELEASE.TEST",
    )


def test_minio_is_built_by_the_pinned_go_toolchain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_go(tmp_path, "go1.22.2")
    monkeypatch.setenv("HBI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("GOTOOLCHAIN", "local")
    monkeypatch.delenv("HBI_MINIO_BIN", raising=False)
    install = minio_install()
    assert (install.source, install.version) == ("cache", MINIO_RELEASE)
    assert (tmp_path / "gotoolchain").read_text().strip() == GO_TOOLCHAIN


def test_build_env_pins_a_go_1_24_toolchain() -> None:
    env = go_build_env("/tmp/gobin")
    assert re.fullmatch(r"go1\.24\.\d+", env["GOTOOLCHAIN"])
    assert (env["GOBIN"], env["CGO_ENABLED"]) == ("/tmp/gobin", "0")


def test_go_too_old_to_switch_toolchains_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_go(tmp_path, "go1.19.8")
    monkeypatch.setenv("HBI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("HBI_MINIO_BIN", raising=False)
    with pytest.raises(ProvisionError, match=r"Go 1\.19.*Go >= 1\.21"):
        minio_install()


def test_installers_name_no_remote_host() -> None:
    """Downloads go through the package managers' configured sources, never a hard-coded URL."""
    sources = [*(REPO_ROOT / "scripts").glob("*.sh"), *(REPO_ROOT / "hbi" / "stack").glob("*.py")]
    remote = [
        f"{path.relative_to(REPO_ROOT)}: {url}"
        for path in sources
        for url in re.findall(r"https?://(\S+)", path.read_text())
        if not LOCAL_HOST.match(url)
    ]
    assert remote == []
