"""Start-up cost of the `hbi` command: `--help` and a lexical search, against a bare interpreter.

Times the wall clock of whole processes, as a user waits for them: `python -c pass` (the
baseline: the interpreter alone), `hbi --help`, and `hbi search --mode lexical QUERY` on the
index of the current HBI_HOME. The commands take turns, round after round, so a change in the
machine's load reaches all of them alike; one untimed round first warms the file cache. Each
figure is the median of the rounds and its ratio to the baseline. The timed searches are logged
in the query log like any other search from the CLI.

    .venv/bin/python benchmarks/bench_cli.py [--runs 7] [--query "rabbit hole"]

Prints a table and writes benchmarks/results/cli.json.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write_results  # noqa: E402

HBI = Path(sys.executable).parent / "hbi"
DEFAULT_QUERY = "rabbit hole"


def commands(query: str) -> dict[str, list[str]]:
    """Return the timed commands by name, the baseline first."""
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "hbi --help": [str(HBI), "--help"],
        "hbi search --mode lexical": [str(HBI), "search", "--mode", "lexical", query],
    }


def wall_time(command: list[str]) -> float:
    """Return the seconds command takes from start to exit; fail if it fails."""
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def measure(named: dict[str, list[str]], runs: int) -> dict[str, list[float]]:
    """Return each command's wall times over `runs` rounds, after one untimed round."""
    for command in named.values():
        wall_time(command)
    times: dict[str, list[float]] = {name: [] for name in named}
    for _ in range(runs):
        for name, command in named.items():
            times[name].append(wall_time(command))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed rounds (median reported)")
    parser.add_argument("--query", default=DEFAULT_QUERY, help="the lexical search's query")
    args = parser.parse_args()

    from hbi.config import hbi_home
    from hbi.index.db import default_index_path

    index = Path(default_index_path())
    if not index.exists():
        print(f"note: {index} does not exist yet; the search runs on an empty index")
    about = machine()
    named = commands(args.query)
    times = measure(named, args.runs)
    baseline = statistics.median(times["python -c pass"])
    rows = [
        {
            "command": name,
            "median_s": round(statistics.median(seconds), 4),
            "min_s": round(min(seconds), 4),
            "max_s": round(max(seconds), 4),
            "ratio_to_baseline": round(statistics.median(seconds) / baseline, 2),
        }
        for name, seconds in times.items()
    ]

    header = f"{'command':<28} {'median s':>9} {'min s':>8} {'max s':>8} {'x python':>9}"
    print(f"{about['cpu']}, {about['cores']} cores, load {about['load_average_1m_before']}")
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['command']:<28} {row['median_s']:>9.3f} {row['min_s']:>8.3f} "
            f"{row['max_s']:>8.3f} {row['ratio_to_baseline']:>9.2f}"
        )
    path = write_results(
        "cli",
        {
            "machine": about,
            "runs": args.runs,
            "query": args.query,
            "index": {
                "path": str(index),
                "bytes": index.stat().st_size if index.exists() else 0,
            },
            "hbi_home": str(hbi_home()),
            "results": rows,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
