"""The shipped alert rules and scrape config, checked and unit-tested with promtool."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.monitoring.prometheus import (
    RULE_TESTS_DIR,
    SCRAPE_CONFIG,
    promtool,
    rule_files,
    rules,
)

RUNBOOK = "deploy/README.md#alert-"
INSTANCE = re.compile(r'instance="([^"]+)"')
ALERTS = {
    "HBIApiDown",
    "HBIApiErrorRate",
    "HBISearchSlow",
    "HBIBackupTooOld",
    "HBIBackupMissing",
    "HBIBooksFailing",
    "HBIIngestionBehind",
    "HBIIndexDiskNearlyFull",
    "HBIObjectStoreUnreachable",
    "HBIRunsFailing",
}


def rule_tests() -> list[Path]:
    return sorted(RULE_TESTS_DIR.glob("*.yml"))


@pytest.mark.parametrize("path", rule_files(), ids=lambda p: p.name)
def test_rule_file_passes_promtool_check_rules(path: Path) -> None:
    checked = promtool("check", "rules", path)
    assert checked.returncode == 0, checked.stdout


def test_the_issue_s_alerts_are_all_there() -> None:
    assert {rule["alert"] for rule in rules() if "alert" in rule} == ALERTS


@pytest.mark.parametrize("rule", [r for r in rules() if "alert" in r], ids=lambda r: r["alert"])
def test_alert_has_summary_description_and_its_runbook_anchor(rule: dict) -> None:
    annotations = rule["annotations"]
    assert annotations["summary"] and annotations["description"]
    assert annotations["runbook"] == RUNBOOK + rule["alert"].lower()
    assert rule["labels"]["severity"] in ("warning", "critical")


@pytest.mark.parametrize("path", rule_tests(), ids=lambda p: p.name)
def test_rule_unit_tests_pass(path: Path) -> None:
    tested = promtool("test", "rules", path)
    assert tested.returncode == 0, tested.stdout


def test_every_alert_fires_in_one_series_and_stays_silent_in_another() -> None:
    """Each alert has a unit test where it fires for some instances and not for others (promtool
    fails a test whose alerts differ from exp_alerts, so the others are checked silent)."""
    covered = set()
    for path in rule_tests():
        for case in yaml.safe_load(path.read_text())["tests"]:
            instances = {
                match[1]
                for series in case["input_series"]
                if (match := INSTANCE.search(series["series"]))
            }
            for check in case.get("alert_rule_test", []):
                firing = {alert["exp_labels"]["instance"] for alert in check["exp_alerts"]}
                if firing and instances - firing:
                    covered.add(check["alertname"])
    assert covered == ALERTS


def test_shipped_scrape_config_passes_promtool_check_config(tmp_path: Path) -> None:
    """The config as compose mounts it, with the key file and rules where the test has them."""
    config = yaml.safe_load(SCRAPE_CONFIG.read_text())
    job, dagster = config["scrape_configs"]
    assert job["job_name"] == "hbi" and job["static_configs"] == [{"targets": ["hbi-api:8000"]}]
    assert dagster["job_name"] == "dagster"
    assert dagster["static_configs"] == [{"targets": ["dagster-metrics:9101"]}]
    assert job["authorization"]["credentials_file"] == "/run/secrets/hbi_api_key"
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    key_file = tmp_path / "hbi_api_key"
    key_file.write_text("a-key\n")
    job["authorization"]["credentials_file"] = str(key_file)
    config["rule_files"] = [str(path) for path in rule_files()]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    checked = promtool("check", "config", tmp_path / "prometheus.yml")
    assert checked.returncode == 0, checked.stdout
    assert "SUCCESS: 1 rule files found" in checked.stdout
