"""deploy/backup.sh and deploy/restore.sh: valid Bash, executable, and covering all the state."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from deploy_files import DAGSTER_YAML, DEPLOY_DIR, load_yaml

SCRIPTS = ("backup.sh", "restore.sh", "compose.sh", "local-images.sh", "e2e.sh")


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_parses_as_bash(name: str) -> None:
    result = subprocess.run(["bash", "-n", str(DEPLOY_DIR / name)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", ("backup.sh", "restore.sh", "local-images.sh", "e2e.sh"))
def test_script_is_executable(name: str) -> None:
    assert os.access(DEPLOY_DIR / name, os.X_OK)


def test_backups_cover_every_state_volume(compose: dict) -> None:
    listed = re.search(r"^STATE_VOLUMES=\(([^)]*)\)", (DEPLOY_DIR / "compose.sh").read_text(), re.M)
    assert listed, "compose.sh defines no STATE_VOLUMES"
    names = {volume["name"] for volume in compose["volumes"].values()}
    # Neo4j's logs are not state, the API's index is a projection it rebuilds from the bundles,
    # and Prometheus's series (the monitoring profile) are a record of the past, not the library.
    not_state = {"hbi_neo4j_logs", "hbi_api_data", "hbi_prometheus_data"}
    assert set(listed.group(1).split()) == names - not_state


def test_run_containers_carry_the_label_the_scripts_wait_for() -> None:
    labels = load_yaml(DAGSTER_YAML)["run_launcher"]["config"]["container_kwargs"]["labels"]
    (label,) = (f"{key}={value}" for key, value in labels.items())
    assert f"label={label}" in (DEPLOY_DIR / "compose.sh").read_text()


def test_restore_creates_the_volumes_without_waiting_for_the_init_job() -> None:
    # Compose 1.29 makes `up --no-start` wait for hbi-init to complete, which a created-only
    # container never does: restore.sh hung there. Only the services that hold state, alone.
    text = (DEPLOY_DIR / "restore.sh").read_text()
    creates = re.findall(r"^compose up --no-start(.*)$", text, re.M)
    assert creates, "restore.sh no longer creates the volumes through Compose"
    for arguments in creates:
        words = arguments.split()
        assert "--no-deps" in words and "hbi-init" not in words, arguments
