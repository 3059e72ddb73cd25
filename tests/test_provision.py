"""Provisioning says clearly what is missing instead of failing obscurely."""

from __future__ import annotations

import pytest

from hbi.stack.provision import ProvisionError, minio_install, neo4j_install


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
