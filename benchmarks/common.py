"""What every benchmark shares: the machine's description and a private MinIO + Neo4j stack."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def machine() -> dict:
    """Return the CPU, cores, memory, load and library versions, to file with each figure."""
    import numpy
    import onnxruntime

    from hbi.index.db import connect, versions

    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    total_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "memory_gb": round(total_kb / 2**20, 1),
        "load_average_1m_before": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "onnxruntime": onnxruntime.__version__,
        **versions(connect(":memory:")),
    }


def start_stack(home: Path):
    """Start MinIO + Neo4j on free ports in home, point HBI's variables at them, return it."""
    from hbi.stack import LocalStack
    from hbi.stack.dagster_home import ensure_dagster_home
    from hbi.stack.process import free_port
    from hbi_resources.object_store import ObjectStoreResource

    for key in [k for k in os.environ if k.startswith(("HBI_MINIO", "HBI_NEO4J"))]:
        del os.environ[key]
    os.environ.update(
        {
            "HBI_HOME": str(home),
            "HBI_MINIO_PORT": str(free_port()),
            "HBI_MINIO_CONSOLE_PORT": str(free_port()),
            "HBI_NEO4J_BOLT_PORT": str(free_port()),
        }
    )
    stack = LocalStack(home)
    stack.up()
    os.environ.update(stack.env())
    ensure_dagster_home(home / "dagster")
    ObjectStoreResource.from_env().ensure_buckets()
    return stack


def percentile(values: list[float], share: float) -> float:
    """Return the nearest-rank percentile of values (share in 0..1, e.g. 0.95 for p95)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def write_results(name: str, payload: dict) -> Path:
    """Write a benchmark's JSON to benchmarks/results/<name>.json and return the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2))
    return path
