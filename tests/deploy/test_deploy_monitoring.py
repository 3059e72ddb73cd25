"""The `monitoring` profile of deploy/docker-compose.yml: Prometheus, Grafana and the Dagster run
exporter, wired to the API, to Dagster's instance and to deploy/monitoring's files, and left out
of a plain `up`.

Docker Hub is out of reach here, so the official images never run in these tests; they check
the profile as Compose resolves it, against the files it mounts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from deploy_files import (
    DEPLOY_DIR,
    TEST_SECRETS,
    env_example,
    load_yaml,
    published_ports,
    resolved_compose,
    service_mounts,
    write_env_file,
)

MONITORING = {"prometheus", "grafana", "dagster-metrics"}
# The profile's services on official images; dagster-metrics runs on HBI's own.
OFFICIAL = {"prometheus", "grafana"}
MONITORING_DIR = DEPLOY_DIR / "monitoring"
PROMETHEUS_YML = MONITORING_DIR / "prometheus.yml"
GRAFANA_PROVISIONING = MONITORING_DIR / "grafana" / "provisioning"
# Every file or folder of deploy/monitoring a service must see, and where.
MOUNTED = {
    "prometheus": {
        PROMETHEUS_YML: "/etc/prometheus/prometheus.yml",
        MONITORING_DIR / "rules": "/etc/prometheus/rules",
    },
    "grafana": {
        GRAFANA_PROVISIONING: "/etc/grafana/provisioning",
        MONITORING_DIR / "grafana" / "dashboards": None,  # where the dashboard provider reads
    },
}
IMAGE_VARIABLES = {"prometheus": "HBI_PROMETHEUS_IMAGE", "grafana": "HBI_GRAFANA_IMAGE"}


def _scrape_config(name: str = "hbi") -> dict[str, Any]:
    (job,) = [job for job in load_yaml(PROMETHEUS_YML)["scrape_configs"] if job["job_name"] == name]
    return job


def _dashboards_path() -> str:
    (provider,) = load_yaml(GRAFANA_PROVISIONING / "dashboards" / "hbi.yml")["providers"]
    return provider["options"]["path"]


def _binds(service: dict[str, Any]) -> dict[Path, Any]:
    return {Path(m.source): m for m in service_mounts(service) if m.kind == "bind"}


def test_monitoring_services_are_in_the_profile_alone(all_services: dict) -> None:
    profiled = {name for name, service in all_services.items() if service.get("profiles")}
    assert profiled == MONITORING
    for name in MONITORING:
        assert all_services[name]["profiles"] == ["monitoring"], name


def test_a_plain_up_starts_no_monitoring_service(compose: dict, services: dict) -> None:
    # Compose v2's `config` leaves an inactive profile's services out; 1.29's lists them with
    # their profiles, which `up` then skips.
    assert not MONITORING & set(services)
    for name in MONITORING & set(compose["services"]):
        assert compose["services"][name]["profiles"] == ["monitoring"], name


def test_monitoring_mounts_existing_files_read_only(all_services: dict) -> None:
    for name, wanted in MOUNTED.items():
        binds = _binds(all_services[name])
        for source, target in wanted.items():
            assert source.exists(), f"{source} is missing"
            assert source in binds, f"{name} does not mount {source}"
            assert binds[source].read_only, f"{name} mounts {source} writable"
            if target is not None:
                assert binds[source].target == target, name
        for source in binds:
            assert source.is_relative_to(MONITORING_DIR), f"{name} bind-mounts {source}"


def test_grafana_reads_dashboards_where_they_are_mounted(all_services: dict) -> None:
    binds = _binds(all_services["grafana"])
    assert binds[MONITORING_DIR / "grafana" / "dashboards"].target == _dashboards_path()
    assert list((MONITORING_DIR / "grafana" / "dashboards").glob("*.json")), "no dashboard"


def test_grafana_datasource_is_the_prometheus_service(all_services: dict) -> None:
    (source,) = load_yaml(GRAFANA_PROVISIONING / "datasources" / "prometheus.yml")["datasources"]
    host, port = re.fullmatch(r"http://([\w-]+):(\d+)", source["url"]).groups()  # type: ignore[union-attr]
    assert host in all_services and port == "9090"
    assert "prometheus" in all_services["grafana"]["depends_on"]


def test_prometheus_scrapes_the_api_service(all_services: dict) -> None:
    (target,) = _scrape_config()["static_configs"][0]["targets"]
    host, port = target.split(":")
    assert host == "hbi-api"
    assert any(p.target == int(port) for p in published_ports(all_services[host]))


def test_prometheus_scrapes_the_dagster_run_exporter(all_services: dict) -> None:
    (target,) = _scrape_config("dagster")["static_configs"][0]["targets"]
    host, port = target.split(":")
    exporter = all_services[host]
    assert exporter["command"][:3] == ["python", "-m", "hbi_assets.run_metrics"]
    assert exporter["command"][exporter["command"].index("--port") + 1] == port
    assert "authorization" not in _scrape_config("dagster")
    assert not published_ports(exporter), "run counts stay on the stack's network"


def test_dagster_exporter_reads_the_daemon_s_instance(all_services: dict) -> None:
    exporter, daemon = all_services["dagster-metrics"], all_services["dagster-daemon"]
    assert exporter["image"] == daemon["image"]
    dagster_env = {k: v for k, v in daemon["environment"].items() if k.startswith("DAGSTER_")}
    assert dagster_env and dagster_env.items() <= exporter["environment"].items()
    instance_yaml = "/opt/dagster/dagster_home/dagster.yaml"
    [mount] = [m for m in service_mounts(exporter) if m.target == instance_yaml]
    assert Path(mount.source) == DEPLOY_DIR / "dagster.yaml" and mount.read_only


def test_prometheus_gets_the_api_key_the_api_reads_as_its_credentials_file(
    all_services: dict, tmp_path: Path
) -> None:
    prometheus, api = all_services["prometheus"], all_services["hbi-api"]
    credentials = Path(_scrape_config()["authorization"]["credentials_file"])
    # The entrypoint writes HBI_API_KEY to that file on a tmpfs, then starts Prometheus.
    assert str(credentials.parent) in prometheus["tmpfs"]
    script = prometheus["entrypoint"][2]
    assert f'"$$HBI_API_KEY" > {credentials}' in script and "exec prometheus" in script
    assert prometheus["environment"]["HBI_API_KEY"] == api["environment"]["HBI_API_KEY"]
    keyed = env_example() | TEST_SECRETS | {"HBI_API_KEY": "test-api-key-51c8"}
    resolved = resolved_compose(write_env_file(tmp_path / "keyed.env", keyed), "monitoring")
    assert resolved["services"]["prometheus"]["environment"]["HBI_API_KEY"] == "test-api-key-51c8"


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_monitoring_image_is_official_pinned_and_overridable(
    name: str, all_services: dict, tmp_path: Path
) -> None:
    image = all_services[name]["image"]
    assert re.fullmatch(rf"(prom/{name}|grafana/{name}):v?\d+\.\d+\.\d+", image), image
    variable = IMAGE_VARIABLES[name]
    values = env_example() | TEST_SECRETS | {variable: f"mirror.example/{name}:1.2.3"}
    resolved = resolved_compose(write_env_file(tmp_path / "mirror.env", values), "monitoring")
    assert resolved["services"][name]["image"] == f"mirror.example/{name}:1.2.3"


def test_monitoring_services_are_healthchecked_on_the_stacks_network(all_services: dict) -> None:
    for name in MONITORING:
        service = all_services[name]
        assert service["healthcheck"]["test"][0] == "CMD", name
        assert list(service["networks"]) == ["hbi"], name


def test_monitoring_ports_listen_on_loopback_by_default(all_services: dict) -> None:
    published = {
        (name, port.target, port.host_ip)
        for name in MONITORING
        for port in published_ports(all_services[name])
    }
    assert published == {("prometheus", 9090, "127.0.0.1"), ("grafana", 3000, "127.0.0.1")}


def test_grafana_is_read_only_without_any_password(all_services: dict) -> None:
    environment = all_services["grafana"]["environment"]
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert environment["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert environment["GF_AUTH_DISABLE_LOGIN_FORM"] == "true"
    assert environment["GF_AUTH_BASIC_ENABLED"] == "false"


def test_prometheus_keeps_its_series_on_a_named_volume(monitoring_compose: dict) -> None:
    mounts = {m.target: m for m in service_mounts(monitoring_compose["services"]["prometheus"])}
    assert mounts["/prometheus"].kind == "volume"
    assert monitoring_compose["volumes"][mounts["/prometheus"].source]["name"].startswith("hbi_")
