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
    """The resolved services by name."""
    return compose["services"]
