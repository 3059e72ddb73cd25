"""Fixtures of the deployment tests: deploy/ resolved by Compose with test secrets filled in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from deploy_files import TEST_SECRETS, env_example, resolved_compose, write_env_file


@pytest.fixture(scope="session")
def test_env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/.env.example with every required value filled in, as an operator would."""
    values = env_example() | TEST_SECRETS
    return write_env_file(tmp_path_factory.mktemp("deploy") / "test.env", values)


@pytest.fixture(scope="session")
def compose(test_env_file: Path) -> dict[str, Any]:
    """deploy/docker-compose.yml as Compose resolves it with the test env file."""
    return resolved_compose(test_env_file)


@pytest.fixture(scope="session")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The resolved services a plain `up` starts, by name: those in no profile.

    Compose 1.29's `config` lists the services of inactive profiles too (v2's leaves them out).
    """
    return {name: s for name, s in compose["services"].items() if not s.get("profiles")}


@pytest.fixture(scope="session")
def monitoring_compose(test_env_file: Path) -> dict[str, Any]:
    """deploy/docker-compose.yml as Compose resolves it with the `monitoring` profile active."""
    return resolved_compose(test_env_file, "monitoring")


@pytest.fixture(scope="session")
def all_services(monitoring_compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every resolved service by name, the monitoring profile's included."""
    return monitoring_compose["services"]
