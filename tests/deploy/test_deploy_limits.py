"""Resource limits and graceful shutdown: every service of deploy/docker-compose.yml (the
monitoring profile's included) and every run container has a memory and a CPU limit above what
deploy/e2e.sh measured, and time to stop cleanly.

Compose 1.29 and Compose v2 both apply `mem_limit`, `cpus` and `stop_grace_period` without swarm;
`deploy.resources` needs `--compatibility` on 1.29, so the file does not use it.
"""

from __future__ import annotations

from typing import Any

from deploy_files import DAGSTER_YAML, byte_size, duration_seconds, load_yaml
from docker.models.containers import RUN_CREATE_KWARGS, RUN_HOST_CONFIG_KWARGS

from hbi.extract.limits import ExtractLimits

MIB = 1024 * 1024
# The most memory each container used while deploy/e2e.sh ran on the stand-in images (MiB, from
# `docker stats` sampled every 2-3 s, two runs; deploy/README.md#resource-limits-and-shutdown).
MEASURED_PEAK_MIB = {
    "postgres": 56,
    "minio": 134,
    "neo4j": 741,
    "hbi-init": 122,
    "hbi-code": 299,
    "dagster-webserver": 138,
    "dagster-daemon": 264,
    "hbi-api": 303,
    "prometheus": 20,  # the stand-in, Debian's Prometheus 2.42, scraping one target
    "run": 514,  # the largest run container: ingest_book, the OCR of a 2-page scan included
}
# A limit at less than this much over the peak would kill a service at its first busier hour.
HEADROOM = 1.5
# Docker's own default, which is what a service without stop_grace_period gets.
DOCKER_DEFAULT_GRACE_S = 10
# The servers that write to disk on shutdown (checkpoints, WAL, TSDB head) need longer.
FLUSHING_SERVERS = {"postgres", "neo4j", "minio", "prometheus"}


def _run_container_kwargs() -> dict[str, Any]:
    return load_yaml(DAGSTER_YAML)["run_launcher"]["config"]["container_kwargs"]


def test_every_service_has_a_memory_and_a_cpu_limit(all_services: dict) -> None:
    for name, service in all_services.items():
        assert byte_size(service.get("mem_limit", "0")) > 0, f"{name} has no mem_limit"
        assert float(service.get("cpus", 0)) > 0, f"{name} has no cpus"


def test_memory_limits_leave_headroom_over_the_measured_peaks(all_services: dict) -> None:
    for name, peak in MEASURED_PEAK_MIB.items():
        if name == "run":
            continue
        limit = byte_size(all_services[name]["mem_limit"])
        assert limit >= HEADROOM * peak * MIB, f"{name}: {limit // MIB} MiB for a {peak} MiB peak"


def test_every_service_gets_time_to_stop_cleanly(all_services: dict) -> None:
    for name, service in all_services.items():
        assert "stop_grace_period" in service, f"{name} has no stop_grace_period"
        grace = duration_seconds(service["stop_grace_period"])
        least = 3 * DOCKER_DEFAULT_GRACE_S if name in FLUSHING_SERVERS else DOCKER_DEFAULT_GRACE_S
        assert grace >= least, f"{name}: {grace}s"


def test_neo4j_limit_holds_its_heap_and_page_cache(all_services: dict) -> None:
    neo4j = all_services["neo4j"]
    environment = neo4j["environment"]
    configured = byte_size(environment["NEO4J_server_memory_heap_max__size"]) + byte_size(
        environment["NEO4J_server_memory_pagecache_size"]
    )
    # The JVM's metaspace, thread stacks and direct buffers come on top of heap and page cache.
    assert byte_size(neo4j["mem_limit"]) >= configured + 512 * MIB


def test_run_container_limits_are_arguments_docker_py_accepts() -> None:
    kwargs = _run_container_kwargs()
    # dagster-docker takes `stop_timeout` out for `container.stop`; `volumes` docker-py converts.
    accepted = {*RUN_CREATE_KWARGS, *RUN_HOST_CONFIG_KWARGS, "volumes", "stop_timeout"}
    assert set(kwargs) <= accepted, set(kwargs) - accepted
    assert {"mem_limit", "nano_cpus"} <= set(kwargs)
    assert kwargs["nano_cpus"] >= 10**9, "a run needs at least one whole core to embed"


def test_run_container_memory_holds_a_run_and_its_pdf_child() -> None:
    limit = byte_size(_run_container_kwargs()["mem_limit"])
    # A PDF is read (and OCR'd) in a child capped at max_pdf_memory_bytes, beside the run itself.
    needed = HEADROOM * MEASURED_PEAK_MIB["run"] * MIB + ExtractLimits().max_pdf_memory_bytes
    assert limit >= needed, f"{limit // MIB} MiB"


def test_run_containers_get_time_to_stop_cleanly() -> None:
    assert _run_container_kwargs()["stop_timeout"] >= 3 * DOCKER_DEFAULT_GRACE_S
