"""The lock files in requirements/ agree with pyproject.toml and pin everything with hashes.

scripts/bootstrap.sh, CI and the image install from the lock files only, so a dependency
changed in pyproject.toml but not re-locked (scripts/lock.sh) would silently not be installed.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def locked(name: str) -> dict[str, list[str]]:
    """Return each package's locked version(s) in requirements/<name>.lock (markers may split one
    package into several lines), failing on any line without a hash."""
    versions: dict[str, list[str]] = {}
    entries = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / "requirements" / f"{name}.lock").read_text())
    for entry in entries:
        match = PIN.match(entry)
        if not match:
            continue
        assert "--hash=sha256:" in entry, f"{name}.lock: {match[1]} has no hash"
        versions.setdefault(canonicalize_name(match[1]), []).append(match[2])
    return versions


def requirements(group: str | None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = project["dependencies"] if group is None else project["optional-dependencies"][group]
    return [Requirement(line) for line in listed]


@pytest.mark.parametrize(
    ("lock", "groups"), [("runtime", [None]), ("dev", [None, "dev"])], ids=["runtime", "dev"]
)
def test_every_declared_dependency_is_locked_at_an_allowed_version(lock, groups) -> None:
    versions = locked(lock)
    for group in groups:
        for requirement in requirements(group):
            name = canonicalize_name(requirement.name)
            assert name in versions, f"{lock}.lock lacks {name}: run scripts/lock.sh"
            for version in versions[name]:
                assert requirement.specifier.contains(version, prereleases=True), (
                    f"{lock}.lock has {name}=={version}, pyproject.toml asks {requirement}: "
                    "run scripts/lock.sh"
                )


def test_the_runtime_lock_is_the_dev_lock_without_the_dev_tools() -> None:
    runtime, dev = locked("runtime"), locked("dev")
    assert {name: runtime[name] for name in runtime} == {name: dev[name] for name in runtime}


def test_the_model_package_is_locked_alone() -> None:
    wanted = [
        Requirement(line)
        for line in (ROOT / "requirements" / "model.in").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    versions = locked("model")
    assert set(versions) == {canonicalize_name(r.name) for r in wanted}
    for requirement in wanted:
        assert all(
            requirement.specifier.contains(v) for v in versions[canonicalize_name(requirement.name)]
        )
