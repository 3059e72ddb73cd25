"""Prometheus metrics of the Dagster instance's runs, served on their own port.

The API must not import Dagster and has no instance, so this small process, which holds the
instance (its dagster.yaml and Postgres credentials), exports the run figures instead:

    python -m hbi_assets.run_metrics --host 0.0.0.0 --port 9101

- `hbi_dagster_runs{status}`: runs in each unfinished status now (queued, starting, started, ...),
  whatever their age; a run stuck in one stays counted until run monitoring ends it.
- `hbi_dagster_runs_finished_total{status}`: every finished run the instance holds, by status
  (success, failure, canceled); `increase(...[1h])` gives the runs that failed in the last hour.
- `hbi_dagster_up`: 1 when those figures were read, 0 when the instance could not be reached
  (they are then left out, and the scrape itself still succeeds).

Each figure is one count query on the runs table; the answers are cached for
HBI_DAGSTER_METRICS_TTL_S seconds (10 by default) so scrapes stay cheap however many there are.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

import dagster as dg
from prometheus_client import CollectorRegistry, ProcessCollector, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hbi.logs import HBI_LOGGER

# Under HBI's logger, which HBI_LOG_FORMAT=json turns to JSON lines at INFO (hbi.logs).
log = logging.getLogger(f"{HBI_LOGGER}.dagster_metrics")

FINISHED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
UNFINISHED = tuple(status for status in dg.DagsterRunStatus if status not in FINISHED)
DEFAULT_PORT = 9101
DEFAULT_TTL_S = 10.0


@dataclass(frozen=True)
class RunCounts:
    """How many runs the instance holds in each status."""

    by_status: dict[dg.DagsterRunStatus, int]


def count_runs(instance: dg.DagsterInstance) -> RunCounts:
    """Return the number of runs in every status, one count query each."""
    return RunCounts(
        {
            status: instance.get_runs_count(filters=dg.RunsFilter(statuses=[status]))
            for status in dg.DagsterRunStatus
        }
    )


class RunMetricsCollector(Collector):
    """Turns the instance's run counts into metrics, reading them at most once per ttl_s."""

    def __init__(
        self, instance: Callable[[], dg.DagsterInstance], ttl_s: float = DEFAULT_TTL_S
    ) -> None:
        self._open_instance = instance
        self._instance: dg.DagsterInstance | None = None
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._counts: RunCounts | None = None
        self._read_at = -float("inf")

    def _read(self) -> RunCounts | None:
        with self._lock:
            if time.monotonic() - self._read_at < self._ttl_s:
                return self._counts
            try:
                if self._instance is None:
                    self._instance = self._open_instance()
                self._counts = count_runs(self._instance)
            # A missing DAGSTER_HOME, a bad dagster.yaml and Postgres down or refusing all surface
            # as different exceptions; each must read as hbi_dagster_up 0, not a failed scrape.
            except Exception:
                log.exception("could not count the Dagster instance's runs")
                self._counts = None
            self._read_at = time.monotonic()
            return self._counts

    def collect(self) -> Iterator[Metric]:
        counts = self._read()
        yield GaugeMetricFamily(
            "hbi_dagster_up",
            "1 if the Dagster instance's runs were counted, 0 if it could not be reached.",
            value=0 if counts is None else 1,
        )
        if counts is None:
            return
        unfinished = GaugeMetricFamily(
            "hbi_dagster_runs",
            "Runs in each unfinished status now (queued, starting, started, canceling, ...).",
            labels=["status"],
        )
        for status in UNFINISHED:
            unfinished.add_metric([status.value.lower()], counts.by_status[status])
        yield unfinished
        finished = CounterMetricFamily(
            "hbi_dagster_runs_finished",
            "Finished runs the Dagster instance holds, by status (success, failure, canceled).",
            labels=["status"],
        )
        for status in FINISHED:
            finished.add_metric([status.value.lower()], counts.by_status[status])
        yield finished

    def describe(self) -> list[Metric]:
        # Tells the registry the names without a read, which would block registration on Postgres.
        return []


def registry_for(
    instance: Callable[[], dg.DagsterInstance], ttl_s: float = DEFAULT_TTL_S
) -> CollectorRegistry:
    """Return a registry with the run metrics of instance and this process's own."""
    registry = CollectorRegistry()
    registry.register(RunMetricsCollector(instance, ttl_s))
    ProcessCollector(registry=registry)
    return registry


def serve(
    host: str,
    port: int,
    instance: Callable[[], dg.DagsterInstance] = dg.DagsterInstance.get,
    ttl_s: float = DEFAULT_TTL_S,
) -> tuple[WSGIServer, threading.Thread]:
    """Serve the run metrics on http://host:port/ in a daemon thread; return the server and it."""
    return start_http_server(port, addr=host, registry=registry_for(instance, ttl_s))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m hbi_assets.run_metrics",
        description="Serve Prometheus metrics of the runs of $DAGSTER_HOME's instance.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("HBI_DAGSTER_METRICS_PORT", DEFAULT_PORT))
    )
    args = parser.parse_args(argv)
    ttl_s = float(os.environ.get("HBI_DAGSTER_METRICS_TTL_S", DEFAULT_TTL_S))
    server, thread = serve(args.host, args.port, ttl_s=ttl_s)
    log.info("serving Dagster run metrics on http://%s:%d/metrics", args.host, args.port)
    try:
        thread.join()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    # In text mode (when hbi.logs, run by hbi_assets' import, left the root logger alone).
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    main()
