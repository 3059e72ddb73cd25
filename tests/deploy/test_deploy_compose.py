"""deploy/docker-compose.yml: valid for Compose, safe by default, and shaped as the issue asks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from deploy_files import (
    COMPOSE_FILE,
    REQUIRED_VARIABLES,
    TEST_SECRETS,
    compose_variables,
    env_example,
    published_ports,
    pyproject,
    run_compose,
    service_mounts,
    write_env_file,
)

DAGSTER_ROLES = {"postgres", "hbi-code", "dagster-webserver", "dagster-daemon"}
HBI_ROLES = {"minio", "neo4j", "hbi-api", "hbi-init"}
# (service, container port) of the UI, the search API and the MinIO console; nothing else.
HBI_IMAGE_ROLES = {"hbi-init", "hbi-code", "dagster-webserver", "dagster-daemon", "hbi-api"}
PUBLISHED = {("dagster-webserver", 3000), ("hbi-api", 8000), ("minio", 9001)}
# Where each server keeps its state; each must be a named volume.
STATE_PATHS = {
    "postgres": "/var/lib/postgresql/data",
    "minio": "/data",
    "neo4j": "/data",
    "hbi-code": "/var/lib/hbi",
    "hbi-api": "/var/lib/hbi",
}
# The only host paths a service may mount: Dagster's config (read-only) and Docker's socket.
ALLOWED_BINDS = {
    "dagster.yaml": True,
    "workspace.yaml": True,
    "/var/run/docker.sock": False,
}


def _one_shot(service: dict[str, Any]) -> bool:
    return str(service.get("restart", "")).strip('"') == "no"


def test_compose_file_resolves_with_every_required_value_set(services: dict) -> None:
    assert set(services) == DAGSTER_ROLES | HBI_ROLES


@pytest.mark.parametrize("variable", REQUIRED_VARIABLES)
def test_compose_refuses_to_start_without_a_required_value(variable: str, tmp_path: Path) -> None:
    values = env_example() | TEST_SECRETS | {variable: ""}
    result = run_compose(write_env_file(tmp_path / "missing.env", values), "config")
    assert result.returncode != 0, f"compose accepted an empty {variable}"
    assert variable in result.stdout + result.stderr


def test_env_example_alone_does_not_start_the_stack(tmp_path: Path) -> None:
    result = run_compose(write_env_file(tmp_path / "example.env", env_example()), "config")
    assert result.returncode != 0
    assert "deploy/.env" in result.stdout + result.stderr


def test_required_values_are_exactly_the_secrets_and_the_socket_group() -> None:
    variables = compose_variables(COMPOSE_FILE.read_text())
    required = {name for name, operators in variables.items() if ":?" in operators}
    assert required == set(REQUIRED_VARIABLES)
    for name in required:
        assert variables[name] == {":?"}, f"{name} also has a default somewhere"


def test_every_compose_variable_is_documented_in_env_example() -> None:
    used = set(compose_variables(COMPOSE_FILE.read_text()))
    assert used - set(env_example()) == set()


def test_env_example_documents_only_variables_compose_reads() -> None:
    used = set(compose_variables(COMPOSE_FILE.read_text()))
    documented = {name for name in env_example() if not name.startswith("COMPOSE_")}
    assert documented - used == set()


def test_env_example_defaults_match_the_compose_defaults() -> None:
    example = env_example()
    text = COMPOSE_FILE.read_text()
    for name, operators in compose_variables(text).items():
        if ":-" in operators:
            assert f"${{{name}:-{example[name]}}}" in text, f"{name} default differs"


def test_every_long_running_service_has_a_healthcheck(services: dict) -> None:
    for name, service in services.items():
        if _one_shot(service):
            continue
        check = service.get("healthcheck")
        assert check and not check.get("disable"), f"{name} has no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name


def test_one_shot_jobs_gate_their_dependents_on_success(services: dict) -> None:
    jobs = {name for name, service in services.items() if _one_shot(service)}
    assert jobs == {"hbi-init"}
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            expected = "service_completed_successfully" if dependency in jobs else "service_healthy"
            assert condition["condition"] == expected, f"{name} -> {dependency}"


def test_hbi_services_wait_for_init_and_their_servers(services: dict) -> None:
    for name in ("hbi-code", "hbi-api"):
        assert {"hbi-init", "neo4j"} <= set(services[name]["depends_on"]), name
    for name in ("dagster-webserver", "dagster-daemon"):
        assert {"postgres", "hbi-code"} <= set(services[name]["depends_on"]), name


def test_images_are_pinned_to_versions(services: dict) -> None:
    for name, service in services.items():
        image = service["image"]
        assert "@sha256:" in image or ":" in image.rsplit("/", 1)[-1], f"{name}: {image}"
        tag = image.rsplit(":", 1)[-1]
        assert tag != "latest" and any(c.isdigit() for c in tag), f"{name}: {image}"


def test_neo4j_is_the_5_26_lts(services: dict) -> None:
    assert services["neo4j"]["image"].startswith("neo4j:5.26.")


def test_hbi_image_default_is_the_project_version(services: dict) -> None:
    version = pyproject()["project"]["version"]
    assert env_example()["HBI_IMAGE"] == f"hbi:{version}"
    hbi_services = {n for n, s in services.items() if s["image"] == f"hbi:{version}"}
    assert hbi_services == HBI_IMAGE_ROLES


def test_state_lives_on_named_volumes(compose: dict, services: dict) -> None:
    declared = compose["volumes"]
    for name, service in services.items():
        for mount in service_mounts(service):
            if mount.kind == "volume":
                assert mount.source in declared, f"{name}: undeclared volume {mount.source}"
                continue
            allowed = [key for key in ALLOWED_BINDS if mount.source.endswith(key)]
            assert allowed, f"{name} bind-mounts {mount.source}"
            if ALLOWED_BINDS[allowed[0]]:
                assert mount.read_only, f"{name} mounts {mount.source} writable"
    for name, path in STATE_PATHS.items():
        kinds = {m.target: m.kind for m in service_mounts(services[name])}
        assert kinds.get(path) == "volume", f"{name}:{path} is not on a named volume"


def test_volumes_have_fixed_names_for_the_run_launcher(compose: dict) -> None:
    for key, volume in compose["volumes"].items():
        assert volume.get("name", "").startswith("hbi_"), key


def test_one_network_joins_every_service(compose: dict, services: dict) -> None:
    assert list(compose["networks"]) == ["hbi"]
    assert compose["networks"]["hbi"]["name"] == "hbi_net"
    for name, service in services.items():
        assert "network_mode" not in service, name
        assert list(service["networks"]) == ["hbi"], name


def test_only_the_ui_api_and_console_ports_are_published(services: dict) -> None:
    published = {
        (name, port.target)
        for name, service in services.items()
        for port in published_ports(service)
    }
    assert published == PUBLISHED


def test_published_ports_listen_on_loopback_by_default(services: dict) -> None:
    for name, service in services.items():
        for port in published_ports(service):
            assert port.host_ip == "127.0.0.1", f"{name} publishes {port}"


def test_docker_socket_goes_only_to_the_daemon_and_webserver(services: dict) -> None:
    with_socket = {
        name
        for name, service in services.items()
        if any(m.source == "/var/run/docker.sock" for m in service_mounts(service))
    }
    assert with_socket == {"dagster-daemon", "dagster-webserver"}
    for name in with_socket:
        assert services[name]["group_add"] == [TEST_SECRETS["HBI_DOCKER_GID"]], name


def test_api_index_is_on_a_volume_of_its_own(services: dict) -> None:
    environment = services["hbi-api"]["environment"]
    mounts = {m.target: m.source for m in service_mounts(services["hbi-api"])}
    assert mounts[environment["HBI_HOME"]] == "hbi-api-data"
    assert environment["HBI_INDEX_PATH"].startswith(environment["HBI_HOME"] + "/")
    for name, service in services.items():
        if name != "hbi-api":
            assert "hbi-api-data" not in {m.source for m in service_mounts(service)}, name


def test_api_service_runs_hbi_serve(services: dict) -> None:
    assert services["hbi-api"]["command"][:2] == ["hbi", "serve"]
