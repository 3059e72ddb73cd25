"""No deployment file carries a password: secrets come only from the operator's deploy/.env."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from deploy_files import (
    COMPOSE_FILE,
    DAGSTER_YAML,
    DEPLOY_DIR,
    SECRET_VARIABLES,
    TEST_SECRETS,
    VARIABLE,
    env_example,
    load_yaml,
)

SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|_AUTH$|^AUTH", re.IGNORECASE)
# Well-known defaults that must never appear as a value in deploy/.
DEFAULT_CREDENTIALS = ("minioadmin", "neo4j/neo4j", "postgres_password", "changeme", "change-me")
# The files of deploy/ an operator does not write: not their .env, nor their backups.
TEXT_FILES = sorted(
    path
    for path in DEPLOY_DIR.rglob("*")
    if path.is_file()
    and path.name != ".env"
    and "backups" not in path.relative_to(DEPLOY_DIR).parts
    and path.suffix in ("", ".yml", ".yaml", ".md", ".sh", ".example")
)


def _required_interpolation(value: str) -> bool:
    """Whether a value's secret part is a `${VAR:?message}` the operator must fill in."""
    matches = list(VARIABLE.finditer(value))
    return bool(matches) and all(m.group(2) == ":?" for m in matches)


def _secret_values(node: Any, path: str = "") -> list[tuple[str, Any]]:
    """Return (path, value) of every mapping entry whose key names a secret."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}"
            if SECRET_NAME.search(str(key)) and not isinstance(value, (dict, list)):
                found.append((where, value))
            found.extend(_secret_values(value, where))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            if isinstance(item, str) and "=" in item and SECRET_NAME.search(item.split("=")[0]):
                found.append((f"{path}[{index}]", item.split("=", 1)[1]))
            found.extend(_secret_values(item, f"{path}[{index}]"))
    return found


def test_env_example_leaves_every_secret_empty() -> None:
    example = env_example()
    for name in SECRET_VARIABLES:
        assert example.get(name, None) == "", f"{name} must be present and empty"


def test_compose_takes_every_secret_from_a_required_variable() -> None:
    secrets = _secret_values(load_yaml(COMPOSE_FILE))
    assert secrets, "expected the secrets of Postgres, MinIO and Neo4j"
    for where, value in secrets:
        assert isinstance(value, str) and _required_interpolation(value), f"{where}: {value!r}"


def test_dagster_yaml_reads_secrets_from_the_environment() -> None:
    postgres_db = load_yaml(DAGSTER_YAML)["storage"]["postgres"]["postgres_db"]
    assert set(postgres_db["password"]) == {"env"}
    assert _secret_values(load_yaml(DAGSTER_YAML)) == []
    launcher = load_yaml(DAGSTER_YAML)["run_launcher"]["config"]
    assert all("=" not in name for name in launcher["env_vars"]), "env_vars must name, not set"


@pytest.mark.parametrize("path", TEXT_FILES, ids=lambda p: str(p.relative_to(DEPLOY_DIR)))
def test_no_deploy_file_assigns_a_literal_secret(path: Path) -> None:
    assignment = re.compile(r"^\s*(?:export\s+)?([A-Z][A-Z0-9_]*)=(\S+)", re.MULTILINE)
    for name, value in assignment.findall(path.read_text()):
        if SECRET_NAME.search(name):
            assert value.startswith(("$", '"$')), f"{path.name}: {name}={value}"


@pytest.mark.parametrize("path", TEXT_FILES, ids=lambda p: str(p.relative_to(DEPLOY_DIR)))
def test_no_deploy_file_holds_a_default_credential(path: Path) -> None:
    text = path.read_text()
    for credential in DEFAULT_CREDENTIALS:
        # As a value: not part of a longer word, and not a key (followed by `:` or `=`); an
        # upper-case match is the name of a variable (the stand-ins read POSTGRES_PASSWORD).
        value = rf"(?<![\w-]){re.escape(credential)}(?![\w-])(?!\s*[:=])"
        matches = re.finditer(value, text, re.IGNORECASE)
        found = [m.group() for m in matches if not m.group().isupper()]
        assert not found, f"{path.name} holds {credential!r}"


def test_test_secrets_are_not_in_any_deploy_file() -> None:
    for path in TEXT_FILES:
        for value in TEST_SECRETS.values():
            assert value not in path.read_text(), path
