"""Search under load: the HTTP API answering concurrent clients, this code against a baseline.

Starts its own MinIO + Neo4j, ingests the whole corpus (8 books) once, and serves that index
with `hbi serve` on a free loopback port for each side: this code (the working tree, or
`--this COMMIT`) and, with `--baseline COMMIT`, that commit checked out into a temporary git
worktree (sharing this virtualenv). A load generator (asyncio + httpx, bounded in requests and
time) runs each phase against the baseline and then this code, so both meet the same library
and nearly the same machine load:
1. idle: one client sending searches back to back — a search on its own;
2. think: N clients (default 20), each pausing `--think-ms` (default 1,000) between a response
   and its next search, as people at a search box do;
3. no-think: N clients back to back — capacity: N requests always in flight on two cores queue
   for N / throughput seconds (Little's law), so latency is not comparable with idle;
4. per-book: N clients back to back, every search per book (`per_book=true`, the three modes);
5. burst: `--burst` (default 200) per-book searches sent at the same moment.
Phases 1–3 cycle through a mix of queries, modes and options (a quarter of them per book).
Each reports throughput, p50/p95/p99 and errors by kind, and this code over the baseline.
Then, with `--ingest-books` (default 24), a last phase on this code only: N clients with think
time while `hbi ingest` materializes that many synthetic Markdown books (20–50 kB,
benchmarks/synthetic_library.py, through the real model) in another process; they grow the
library by about a third, so it measures the ingest's interference rather than a bigger index
(target: no errors, loaded p95 within 3x of the idle p95).

Last, the rate limiter (HBI_API_RATE_LIMIT), on this code: N clients, each with its own API key
(so each has its own bucket), send lexical searches back to back to three servers over the same
index: no limiter (`off`), a limiter that never refuses (`unrefused`, a rate no client reaches:
its cost alone) and `--rate-limit` (`limited`, by default below what one client gets of the
server, so it refuses some). Off and unrefused alternate (A B B A, twice); the limiter's
overhead is unrefused over off, and one bucket lookup is timed on its own.
`--limiter-only` runs just this part.

    .venv/bin/python benchmarks/bench_load.py [--baseline COMMIT] [--clients 20]
        [--duration 30] [--think-ms 1000] [--burst 200] [--ingest-books 24]
        [--rate-limit "1/s burst 5"] [--limiter-only]

Prints a table and writes benchmarks/results/load.json (load-rate-limit.json with
--limiter-only).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, machine, percentile, start_stack, write_results  # noqa: E402
from synthetic_library import SyntheticLibrary  # noqa: E402

from hbi.api.ratelimit import RATE_LIMIT_ENV, RateLimit, TokenBuckets  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
# Queries about every corpus book, so the books being ingested join the answers as they land.
QUERIES = (
    "all warfare is based on deception",
    "down the rabbit hole",
    "the Cheshire cat grin",
    "time traveller and the Morlocks",
    "Sherlock Holmes deduction from small details",
    "proud Mr. Darcy at the ball",
    "cynic definition",
    "purge media sanitization techniques",
    "blockchain consensus model proof of work",
    "moving the army through difficult ground",
)
MODES = ("hybrid", "hybrid", "lexical", "semantic")
EXTRAS = ({}, {"k": 20}, {"per_book": "true"}, {"offset": 10})
PER_BOOK_MODES = ("hybrid", "lexical", "semantic")
PHASES = ("idle", "think", "no-think", "per-book", "burst")
SIDES = ("baseline", "this")
# The limiter's sides: HBI_API_RATE_LIMIT of each server (`limited` takes --rate-limit).
LIMITER_SIDES = {"off": "off", "unrefused": "1000000/s", "limited": None}
# Twice A B B A, so drift in the machine's load (other processes) falls on both sides alike.
LIMITER_ORDER = ("off", "unrefused", "unrefused", "off") * 2 + ("limited",)


@dataclass
class Phase:
    """The samples of one load phase: (latency s, error kind or None) per request, and wall s."""

    samples: list[tuple[float, str | None]] = field(default_factory=list)
    wall_s: float = 0.0

    def extend(self, other: Phase) -> None:
        """Add another run's samples and time to this one's."""
        self.samples.extend(other.samples)
        self.wall_s += other.wall_s

    def summary(self) -> dict:
        """Return requests, throughput, latency percentiles (ms) and errors by kind."""
        latencies = [s for s, error in self.samples if error is None]
        errors = Counter(error for _, error in self.samples if error is not None)

        def ms(share: float) -> float | None:
            return round(percentile(latencies, share) * 1000, 1) if latencies else None

        return {
            "requests": len(self.samples),
            "errors": sum(errors.values()),
            "errors_by_kind": dict(errors),
            "throughput_rps": round(len(self.samples) / self.wall_s, 1) if self.wall_s else 0.0,
            "refused_429_share": round(errors["HTTP 429"] / len(self.samples), 3)
            if self.samples
            else 0.0,
            "p50_ms": ms(0.50),
            "p95_ms": ms(0.95),
            "p99_ms": ms(0.99),
            "max_ms": ms(1.0),
        }


def request_mix() -> tuple[dict, ...]:
    """Return the search parameters the clients cycle through: queries x modes x options."""
    return tuple(
        {"q": query, "mode": MODES[i % len(MODES)], **EXTRAS[(i // len(MODES)) % len(EXTRAS)]}
        for i, query in enumerate(QUERIES * len(MODES) * len(EXTRAS))
    )


def per_book_mix() -> tuple[dict, ...]:
    """Return per-book searches: every query in each mode."""
    return tuple(
        {"q": query, "mode": PER_BOOK_MODES[i % len(PER_BOOK_MODES)], "per_book": "true"}
        for i, query in enumerate(QUERIES * len(PER_BOOK_MODES))
    )


@dataclass(frozen=True)
class LoadShape:
    """How a phase loads the API: clients, for how long, at most how many requests, think
    time, and the searches the clients cycle through."""

    clients: int
    duration_s: float
    max_requests: int
    think_s: float = 0.0
    searches: tuple[dict, ...] = field(default_factory=request_mix)
    # Each client sends its own API key, so a rate limit gives each its own bucket.
    keyed: bool = False


def phase_shapes(args: argparse.Namespace) -> dict[str, LoadShape]:
    """Return the shape of each compared phase."""
    think_s = args.think_ms / 1000
    clients, duration, most = args.clients, args.duration, args.max_requests
    return {
        "idle": LoadShape(1, args.idle_duration, most),
        "think": LoadShape(clients, duration, most, think_s),
        "no-think": LoadShape(clients, duration, most),
        "per-book": LoadShape(clients, duration, most, searches=per_book_mix()),
        # Each of the clients sends one search, all at once; the duration only bounds it.
        "burst": LoadShape(args.burst, 600.0, args.burst, searches=per_book_mix()),
    }


async def _client(
    http: httpx.AsyncClient, number: int, shape: LoadShape, budget: list[int], phase: Phase
) -> None:
    mix = shape.searches
    turn = number * 7
    deadline = time.perf_counter() + shape.duration_s
    # Clients start spread over one think time, so they do not search in lockstep.
    await asyncio.sleep(shape.think_s * number / shape.clients)
    headers = {"X-API-Key": f"bench-client-{number}"} if shape.keyed else None
    while time.perf_counter() < deadline and budget[0] > 0:
        budget[0] -= 1
        params = mix[turn % len(mix)]
        turn += 1
        started = time.perf_counter()
        try:
            response = await http.get("/search", params=params, headers=headers)
            error = None if response.status_code == 200 else f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        phase.samples.append((time.perf_counter() - started, error))
        await asyncio.sleep(max(0.0, min(shape.think_s, deadline - time.perf_counter())))


async def _load(url: str, shape: LoadShape) -> Phase:
    phase = Phase()
    budget = [shape.max_requests]
    limits = httpx.Limits(max_connections=shape.clients, max_keepalive_connections=shape.clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0) as http:
        started = time.perf_counter()
        await asyncio.gather(
            *(_client(http, i, shape, budget, phase) for i in range(shape.clients))
        )
        phase.wall_s = time.perf_counter() - started
    return phase


def run_phase(url: str, shape: LoadShape) -> dict:
    """Run the phase's clients until its time or request budget is spent; summarise it."""
    load = round(os.getloadavg()[0], 2)
    summary = asyncio.run(_load(url, shape)).summary()
    return {**summary, "clients": shape.clients, "load_average_1m_before": load}


def limiter_phases(args: argparse.Namespace, home: Path, tree: Path) -> dict:
    """Load a server without a limiter, with one that never refuses and with --rate-limit;
    return each side's figures, the limiter's overhead and the cost of one bucket lookup."""
    searches = tuple({"q": query, "mode": "lexical"} for query in QUERIES)
    shape = LoadShape(args.clients, args.duration, args.max_requests, searches=searches, keyed=True)
    limits = {side: limit or args.rate_limit for side, limit in LIMITER_SIDES.items()}
    phases = {side: Phase() for side in limits}
    with ExitStack() as running:
        servers = {
            side: running.enter_context(
                ApiServer(tree, home / f"api-limit-{side}.log", {RATE_LIMIT_ENV: limit})
            )
            for side, limit in limits.items()
        }
        for server in servers.values():
            server.warm_up()
        for side in LIMITER_ORDER:
            print(f"limiter: {side} ({limits[side]}), {shape.clients} clients…", flush=True)
            phases[side].extend(asyncio.run(_load(servers[side].url, shape)))
    sides = {
        side: {**phase.summary(), "clients": shape.clients, "rate_limit": limits[side]}
        for side, phase in phases.items()
    }
    off, unrefused = sides["off"], sides["unrefused"]
    return {
        "sides": sides,
        "unrefused_over_off": {
            "throughput": _ratio(unrefused["throughput_rps"], off["throughput_rps"]),
            "p50_ms": _ratio(unrefused["p50_ms"], off["p50_ms"]),
            "p95_ms": _ratio(unrefused["p95_ms"], off["p95_ms"]),
        },
        "bucket_take_us": bucket_take_us(),
    }


def bucket_take_us(clients: int = 10_000, takes: int = 200_000) -> float:
    """Return the microseconds one TokenBuckets.take costs, over a full table of clients."""
    buckets = TokenBuckets(RateLimit(1_000_000.0, 1_000_000, "bench"))
    names = [f"client {number}" for number in range(clients)]
    started = time.perf_counter()
    for turn in range(takes):
        buckets.take(names[turn % clients])
    return round((time.perf_counter() - started) / takes * 1e6, 2)


def hbi_command(*args: str) -> list[str]:
    """Return the command line of `hbi args…` from this virtualenv."""
    return [str(Path(sys.executable).with_name("hbi")), *args]


def tree_env(tree: Path) -> dict[str, str]:
    """Return this environment with tree's packages first on the import path."""
    return {**os.environ, "PYTHONPATH": str(tree)}


@contextmanager
def source_tree(commit: str | None) -> Iterator[Path]:
    """Yield a checkout of commit (a temporary git worktree), or this checkout for None."""
    if commit is None:
        yield REPO
        return
    with tempfile.TemporaryDirectory(prefix="hbi-bench-tree-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), commit],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        try:
            yield tree
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, check=False
            )


def describe(tree: Path) -> str:
    """Return the commit a tree is at, marked when it has uncommitted changes."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True, text=True
    ).stdout.strip()
    changes = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=tree,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{commit} + uncommitted changes" if changes else commit


class ApiServer:
    """`hbi serve` of a source tree on a free loopback port, as a separate process."""

    def __init__(self, tree: Path, log: Path, env: dict[str, str] | None = None) -> None:
        from hbi.stack.process import free_port

        self.tree = tree
        self.env = env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> ApiServer:
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                hbi_command("serve", "--port", str(self.port)),
                cwd=self.tree,
                env={**tree_env(self.tree), **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_healthy()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=30)

    def _wait_healthy(self, timeout_s: float = 120.0) -> None:
        started = time.perf_counter()
        while time.perf_counter() - started < timeout_s:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"hbi serve exited; see {self.log}")
            try:
                if httpx.get(f"{self.url}/health", timeout=10.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"hbi serve was not healthy within {timeout_s} s; see {self.log}")

    def warm_up(self) -> None:
        """Send one search per mode, so model loading and vector caches are not measured."""
        for mode in ("lexical", "semantic", "hybrid"):
            response = httpx.get(
                f"{self.url}/search", params={"q": QUERIES[0], "mode": mode}, timeout=300.0
            )
            response.raise_for_status()


def start_ingest(tree: Path, folder: Path, log: Path) -> subprocess.Popen:
    """Start `hbi ingest` of the books in folder, with tree's code, in another process.

    Not in this process: an ingest lowers the CPU priority of the process it runs in, and the
    API server started from here would inherit it.
    """
    with log.open("wb") as out:
        return subprocess.Popen(
            hbi_command("ingest", str(folder), "--json"),
            cwd=tree,
            env=tree_env(tree),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def corpus_folder(corpus: Path, folder: Path) -> list[str]:
    """Link every corpus book into folder; return their names."""
    from hbi.books.ids import is_book_key

    folder.mkdir(parents=True)
    books = sorted(p for p in corpus.iterdir() if p.is_file() and is_book_key(p.name))
    for book in books:
        (folder / book.name).symlink_to(book)
    return [book.name for book in books]


def synthetic_folder(count: int, folder: Path) -> int:
    """Write count synthetic Markdown books into folder; return their total size in bytes."""
    folder.mkdir(parents=True)
    library = SyntheticLibrary(seed=7)
    size = 0
    for number in range(count):
        book = library.book(number)
        path = folder / Path(book.object_key).name
        path.write_text(book.text, encoding="utf-8")
        size += path.stat().st_size
    return size


def measure(args: argparse.Namespace, home: Path, trees: dict[str, Path]) -> dict:
    """Seed the index, serve it from each tree, run the phases on each side; return figures."""
    seeded = corpus_folder(args.corpus, home / "corpus")
    print(f"ingesting the corpus ({len(seeded)} books)…", flush=True)
    if start_ingest(trees["this"], home / "corpus", home / "seed.log").wait() != 0:
        raise SystemExit(f"seeding failed; see {home / 'seed.log'}")
    figures: dict = {
        "commits": {side: describe(tree) for side, tree in trees.items()},
        "library": {
            "corpus_books": seeded,
            "corpus_bytes": _size(args.corpus, seeded),
            "chunks": chunk_count(),
        },
        "phases": {},
    }
    if args.limiter_only:
        figures["rate_limiter"] = limiter_phases(args, home, trees["this"])
        return figures
    shapes = phase_shapes(args)
    with ExitStack() as running:
        servers = {
            side: running.enter_context(ApiServer(tree, home / f"api-{side}.log"))
            for side, tree in trees.items()
        }
        for server in servers.values():
            server.warm_up()
        for name, shape in shapes.items():
            figures["phases"][name] = {}
            for side in (s for s in SIDES if s in servers):
                print(
                    f"{name}: {side}, {shape.clients} clients, "
                    f"{shape.think_s * 1000:.0f} ms between searches…",
                    flush=True,
                )
                figures["phases"][name][side] = run_phase(servers[side].url, shape)
        if args.ingest_books:
            figures["loaded"] = loaded_phase(args, home, servers["this"], trees["this"])
    figures["rate_limiter"] = limiter_phases(args, home, trees["this"])
    if "baseline" in trees:
        figures["this_over_baseline"] = {
            name: {
                key: _ratio(sides["this"][key], sides["baseline"][key])
                for key in ("p50_ms", "p95_ms", "p99_ms")
            }
            for name, sides in figures["phases"].items()
        }
    return figures


def loaded_phase(args: argparse.Namespace, home: Path, api: ApiServer, tree: Path) -> dict:
    """Run N clients with think time while more books are ingested; return its figures."""
    to_ingest = home / "to-ingest"
    ingest_bytes = synthetic_folder(args.ingest_books, to_ingest)
    chunks_before = chunk_count()
    print(f"loaded: this, ingesting {args.ingest_books} synthetic books…", flush=True)
    ingest_started = time.perf_counter()
    ingest = start_ingest(tree, to_ingest, home / "ingest.log")
    shape = LoadShape(args.clients, args.duration, args.max_requests, args.think_ms / 1000)
    loaded = run_phase(api.url, shape)
    running_at_end = ingest.poll() is None
    if ingest.wait() != 0:
        raise SystemExit(f"hbi ingest failed; see {home / 'ingest.log'}")
    return {
        **loaded,
        "chunks_before_ingest": chunks_before,
        "chunks_after_ingest": chunk_count(),
        "ingest": {
            "books": args.ingest_books,
            "bytes": ingest_bytes,
            "seconds": round(time.perf_counter() - ingest_started, 1),
            "still_running_when_load_ended": running_at_end,
        },
    }


def chunk_count() -> int:
    """Return how many passages the stack's index holds."""
    from hbi.index.db import connect, default_index_path

    return connect(default_index_path()).execute("SELECT count(*) FROM chunks").fetchone()[0]


def _size(folder: Path, names: list[str]) -> int:
    return sum((folder / name).stat().st_size for name in names)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return round(numerator / denominator, 2) if numerator and denominator else None


def print_table(figures: dict) -> None:
    """Print one row per phase and side, this code over the baseline, and the loaded phase."""
    print(
        f"{'phase':<9} {'side':<9} {'clients':>7} {'requests':>8} {'errors':>6} {'req/s':>7} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    )

    def row(name: str, side: str, summary: dict) -> None:
        print(
            f"{name:<9} {side:<9} {summary['clients']:>7} {summary['requests']:>8} "
            f"{summary['errors']:>6} {summary['throughput_rps']:>7} {summary['p50_ms']!s:>8} "
            f"{summary['p95_ms']!s:>8} {summary['p99_ms']!s:>8} {summary['max_ms']!s:>8}"
        )

    for name, sides in figures.get("phases", {}).items():
        for side, summary in sides.items():
            row(name, side, summary)
        ratios = figures.get("this_over_baseline", {}).get(name)
        if ratios:
            print(
                f"{'':<9} {'this/base':<9} {'':>7} {'':>8} {'':>6} {'':>7} "
                f"{ratios['p50_ms']!s:>8} {ratios['p95_ms']!s:>8} {ratios['p99_ms']!s:>8}"
            )
    loaded = figures.get("loaded")
    if loaded:
        row("loaded", "this", loaded)
        idle = figures["phases"]["idle"]["this"]["p95_ms"]
        print(
            f"p95 loaded / idle {_ratio(loaded['p95_ms'], idle)} (target <= 3) | ingest of "
            f"{loaded['ingest']['books']} books {loaded['ingest']['seconds']} s, running to the "
            f"end of the load: {loaded['ingest']['still_running_when_load_ended']}"
        )
    limiter = figures["rate_limiter"]
    for side, summary in limiter["sides"].items():
        row("limiter", side, summary)
        print(f"{'':<9} {'':<9} 429 share {summary['refused_429_share']} ({summary['rate_limit']})")
    print(
        f"limiter overhead, unrefused / off: {limiter['unrefused_over_off']} | one bucket "
        f"lookup {limiter['bucket_take_us']} µs"
    )
    print(f"commits: {figures['commits']} | passages: {figures['library']['chunks']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="Commit to run the same load against.")
    parser.add_argument("--this", help="Commit to measure instead of the working tree.")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=30.0, help="Seconds of each phase.")
    parser.add_argument(
        "--idle-duration", type=float, default=15.0, help="Seconds of the idle phase."
    )
    parser.add_argument("--max-requests", type=int, default=50_000, help="Per phase.")
    parser.add_argument(
        "--think-ms", type=float, default=1000.0, help="Each client's pause between searches."
    )
    parser.add_argument("--burst", type=int, default=200, help="Simultaneous per-book searches.")
    parser.add_argument(
        "--ingest-books",
        type=int,
        default=24,
        help="Synthetic books ingested under load at the end (0: no loaded phase).",
    )
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument(
        "--rate-limit",
        default="1/s burst 5",
        help="HBI_API_RATE_LIMIT of the limited server (each client has its own bucket).",
    )
    parser.add_argument(
        "--limiter-only", action="store_true", help="Run only the rate limiter's comparison."
    )
    args = parser.parse_args()
    RateLimit.parse(args.rate_limit)
    host = machine()
    with (
        source_tree(args.this) as this,
        source_tree(args.baseline) if args.baseline else nullcontext() as baseline,
        tempfile.TemporaryDirectory(prefix="hbi-bench-") as tmp,
    ):
        trees = {"this": this} if baseline is None else {"baseline": baseline, "this": this}
        home = Path(tmp) / "home"
        stack = start_stack(home)
        try:
            figures = measure(args, home, trees)
        finally:
            stack.down()
    settings = {
        "clients": args.clients,
        "duration_s": args.duration,
        "idle_duration_s": args.idle_duration,
        "think_ms": args.think_ms,
        "burst": args.burst,
        "rate_limit": args.rate_limit,
    }
    result = {"machine": host, "settings": settings, **figures}
    print_table(figures)
    print(f"machine: {host}")
    print(f"wrote {write_results('load-rate-limit' if args.limiter_only else 'load', result)}")


if __name__ == "__main__":
    main()
