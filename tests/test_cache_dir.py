"""One rule for the machine-wide cache folder: `hbi.config.cache_dir`, used by every component."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hbi.config import cache_dir
from hbi.embedding import onnx_cache

REPO_ROOT = Path(__file__).resolve().parent.parent
# A path spelled `~/.cache`, `$HOME/.cache` or `".cache"`, or the XDG variable: the rule itself.
CACHE_RULE = re.compile(r"(~/|/|[\"'])\.cache\b|XDG_CACHE_HOME")


def test_models_folder_follows_xdg_cache_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HBI_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert onnx_cache.default_cache_dir() == tmp_path.resolve() / "hbi" / "models"


def test_models_folder_follows_hbi_cache_dir_over_xdg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HBI_CACHE_DIR", str(tmp_path / "hbi-cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert onnx_cache.default_cache_dir() == cache_dir() / "models"
    assert cache_dir() == (tmp_path / "hbi-cache").resolve()


def test_only_config_spells_out_the_cache_folder() -> None:
    sources = [
        path
        for folder in ("hbi", "hbi_resources", "hbi_assets", "scripts")
        for path in (REPO_ROOT / folder).rglob("*")
        if path.suffix in {".py", ".sh"}
    ]
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for path in sources
        if path != REPO_ROOT / "hbi" / "config.py" and CACHE_RULE.search(path.read_text())
    ]
    assert offenders == []
