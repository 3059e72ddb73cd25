"""The Dagster UI's responsiveness, measured through the GraphQL queries its pages send.

`DagsterWebserver` starts `dagster-webserver` on a free loopback port against this process's
DAGSTER_HOME and HBI's workspace; `time_query` times one GraphQL request as the browser makes
it. PARTITION_HEALTH is the query the asset page's Partitions tab sends (copied from the
dagster-webserver 1.13 bundle, `PartitionHealthQuery`): every partition key plus the
materialized, materializing and failed sets, so its cost grows with the partition count.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

PARTITION_HEALTH = """
query PartitionHealthQuery($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    ... on AssetNode {
      id
      partitionKeysByDimension { name type partitionKeys }
      assetPartitionStatuses {
        ... on DefaultPartitionStatuses {
          materializedPartitions materializingPartitions failedPartitions
        }
      }
    }
  }
}
"""

# What the asset catalog shows per partitioned asset: counts, not keys.
PARTITION_STATS = """
query AssetPartitionStats($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    ... on AssetNode { partitionStats { numMaterialized numPartitions numFailed } }
  }
}
"""


class DagsterWebserver:
    """dagster-webserver on 127.0.0.1:port, started on enter and stopped on exit."""

    def __init__(self, workspace: Path, port: int, log: Path) -> None:
        self.workspace = workspace
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.log = log
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> DagsterWebserver:
        binary = Path(sys.executable).with_name("dagster-webserver")
        command = [str(binary), "-h", "127.0.0.1", "-p", str(self.port), "-w", str(self.workspace)]
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                command,
                cwd=self.workspace.parent,
                env=os.environ.copy(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def wait_until_loaded(self, asset: str, timeout_s: float = 300.0) -> float:
        """Wait until the code location answers for asset; return the seconds it took."""
        started = time.perf_counter()
        while time.perf_counter() - started < timeout_s:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"dagster-webserver exited; see {self.log}")
            try:
                node = self.query(PARTITION_STATS, asset)["assetNodeOrError"]
                if node.get("partitionStats"):
                    return time.perf_counter() - started
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            time.sleep(1.0)
        raise TimeoutError(f"dagster-webserver did not load {asset} in {timeout_s} s")

    def query(self, document: str, asset: str) -> dict:
        """Return the data of one GraphQL query about asset; raise on GraphQL errors."""
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": document, "variables": {"assetKey": {"path": [asset]}}},
            timeout=120.0,
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise ValueError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def time_query(self, document: str, asset: str, repeats: int = 5) -> dict:
        """Return the first (cold) and the median of `repeats` further answers, in ms."""
        timings = []
        size = 0
        for _ in range(repeats + 1):
            started = time.perf_counter()
            data = self.query(document, asset)
            timings.append((time.perf_counter() - started) * 1000)
            size = len(str(data))
        return {
            "first_ms": round(timings[0], 1),
            "median_ms": round(statistics.median(timings[1:]), 1),
            "max_ms": round(max(timings[1:]), 1),
            "answer_chars": size,
        }
