"""The shipped monitoring files, promtool, and a real Prometheus (Debian's package) on loopback."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import yaml

from hbi.stack.process import free_port

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
SCRAPE_CONFIG = MONITORING / "prometheus.yml"
RULES_DIR = MONITORING / "rules"
RULE_TESTS_DIR = MONITORING / "tests"
DASHBOARDS_DIR = MONITORING / "grafana" / "dashboards"
# What Grafana puts in place of the dashboard's variables before it sends a query.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$instance": ".*"}
HBI_METRIC = re.compile(r"\bhbi_[a-z0-9_]+\b")


def promtool(*args: str | Path) -> subprocess.CompletedProcess:
    """Run promtool; return its result (output in stdout, as promtool mixes both streams)."""
    return subprocess.run(
        ["promtool", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
    )


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.yml"))


def rules() -> list[dict]:
    """Return every rule of the shipped rule files."""
    return [
        rule
        for path in rule_files()
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def dashboard_exprs() -> list[str]:
    """Return the PromQL of every panel target of the shipped Grafana dashboards."""
    exprs = []
    for path in sorted(DASHBOARDS_DIR.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            exprs += [target["expr"] for target in panel.get("targets", [])]
    return exprs


def as_grafana_sends(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def scrape_config_for(
    target: str, key_file: Path, dagster_target: str, interval_s: int = 2
) -> dict:
    """Return the shipped scrape config with its targets (the API's, the Dagster run exporter's),
    key file, rules and interval changed."""
    config = yaml.safe_load(SCRAPE_CONFIG.read_text())
    config["global"].update(
        scrape_interval=f"{interval_s}s",
        scrape_timeout=f"{interval_s}s",
        evaluation_interval=f"{interval_s}s",
    )
    config["rule_files"] = [str(RULES_DIR / "*.yml")]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    jobs["hbi"]["authorization"]["credentials_file"] = str(key_file)
    jobs["hbi"]["static_configs"] = [{"targets": [target]}]
    jobs["dagster"]["static_configs"] = [{"targets": [dagster_target]}]
    return config


@dataclass
class Prometheus:
    """A `prometheus` process on 127.0.0.1:port."""

    process: subprocess.Popen
    port: int
    log: IO[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def query(self, expr: str) -> dict:
        """Return the API's whole answer to an instant query (status, data or error)."""
        return httpx.get(self.url + "/api/v1/query", params={"query": expr}, timeout=30).json()

    def values(self, expr: str) -> list[float]:
        """Return the values of an instant query's series."""
        answer = self.query(expr)
        assert answer["status"] == "success", answer
        return [float(series["value"][1]) for series in answer["data"]["result"]]

    def wait_for(self, expr: str, timeout_s: float = 60) -> list[float]:
        """Return the query's values once it has any (within timeout_s)."""
        deadline = time.monotonic() + timeout_s
        while not (found := self.values(expr)) and time.monotonic() < deadline:
            time.sleep(0.5)
        return found

    def metric_names(self) -> set[str]:
        answer = httpx.get(self.url + "/api/v1/label/__name__/values", timeout=30).json()
        return set(answer["data"])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def start_prometheus(config: dict, folder: Path) -> Prometheus:
    """Start Debian's prometheus with config, its data in folder; return once it is ready."""
    config_file = folder / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config))
    port = free_port()
    # A file, not a pipe, which a chatty server would fill and block on.
    log = tempfile.TemporaryFile("w+")  # noqa: SIM115
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config_file}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Prometheus(process, port, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"prometheus exited: {log.read()[-4000:]}")
        try:
            if httpx.get(server.url + "/-/ready", timeout=5).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError("prometheus was not ready within 60 s")
