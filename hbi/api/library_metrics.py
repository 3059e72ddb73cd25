"""The library's Prometheus metrics: what the index holds, what waits or failed in the buckets,
the newest full backup, and the sizes of the index, its filesystem and the query log.

A scrape never waits on MinIO or the index: the figures are gathered in a background thread at
most once per `ttl_s` (HBI_METRICS_TTL_S), and each scrape reports the last ones gathered, with
their age. Only the first scrape after start waits for them, up to FIRST_WAIT_S. A source that
cannot be read is reported by `hbi_library_source_up{source=…}` 0 and its figures are left out,
so the scrape itself still succeeds.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hbi.backup.retention import backup_time
from hbi.bundle.bucket import full_backup_ids
from hbi.config import layout
from hbi.index import reads
from hbi.index.db import connect, default_index_path
from hbi.reader.library import LibraryView
from hbi.storage.object_store import OBJECT_STORE_ERRORS, ObjectStore, ObjectStoreClient

ENV_METRICS_TTL = "HBI_METRICS_TTL_S"
DEFAULT_TTL_S = 10.0
FIRST_WAIT_S = 5.0
INDEX = "index"
OBJECT_STORE = "object_store"


def _object_store() -> ObjectStoreClient | None:
    try:
        return ObjectStore.from_env()
    except KeyError:
        return None


@dataclass
class LibraryFigures:
    """One gathering of the library's figures; None where its source could not be read."""

    gathered_at: float
    seconds: float = 0.0
    sources_up: dict[str, bool] = field(default_factory=dict)
    books_indexed: int | None = None
    chunks: int | None = None
    vectors: int | None = None
    index_bytes: int | None = None
    filesystem_free_bytes: int | None = None
    filesystem_size_bytes: int | None = None
    books_failed: int | None = None
    books_pending: int | None = None
    full_backups: int | None = None
    last_full_backup_at: float | None = None
    query_log_bytes: int | None = None


def _file_bytes(path: Path, log_suffix: str) -> int | None:
    """Return the bytes of a database file and its write-ahead log; None when there is none."""
    if not path.exists():
        return None
    log = path.with_name(path.name + log_suffix)
    return path.stat().st_size + (log.stat().st_size if log.exists() else 0)


def _disk_figures(figures: LibraryFigures, index_path: Path, query_log_path: Path) -> None:
    figures.index_bytes = _file_bytes(index_path, "-wal")
    # The query log is created by the first search it records: until then it holds nothing.
    figures.query_log_bytes = _file_bytes(query_log_path, ".wal") or 0
    # A new home may have no index folder yet: its nearest existing parent is on the same
    # filesystem.
    folder = next(p for p in (index_path, *index_path.parents) if p.exists())
    usage = shutil.disk_usage(folder)
    figures.filesystem_free_bytes, figures.filesystem_size_bytes = usage.free, usage.total


def _index_figures(figures: LibraryFigures, index_path: Path, library_view: LibraryView) -> None:
    try:
        connection = connect(index_path, readonly=True)
        try:
            view = library_view.view(connection)
            projected = reads.projections(connection)
        finally:
            connection.close()
    except Exception:  # a missing, locked or half-made index is reported as the index being down
        figures.sources_up[INDEX] = False
        return
    figures.sources_up[INDEX] = True
    figures.books_indexed = len(view["books"])
    figures.chunks = sum(book["chunks"] for book in view["books"])
    figures.vectors = sum(row["vectors"] for row in projected.values())
    if view.get("errors"):
        figures.sources_up[OBJECT_STORE] = False
    else:
        figures.books_failed = len(view["failed"])
        figures.books_pending = len(view["pending"])


def _backup_figures(figures: LibraryFigures, store: Callable[[], ObjectStoreClient | None]) -> None:
    if figures.sources_up.get(OBJECT_STORE) is False:
        return  # already found out of reach: do not wait on it twice
    client = store()
    if client is None:
        figures.sources_up[OBJECT_STORE] = False
        return
    try:
        ids = full_backup_ids(client)
    except OBJECT_STORE_ERRORS:
        figures.sources_up[OBJECT_STORE] = False
        return
    figures.sources_up[OBJECT_STORE] = True
    figures.full_backups = len(ids)
    if ids:
        figures.last_full_backup_at = backup_time(ids[0]).timestamp()


def gather(
    index_path: Path,
    query_log_path: Path,
    library_view: LibraryView,
    store: Callable[[], ObjectStoreClient | None],
) -> LibraryFigures:
    """Read the figures once: the index's rows, the buckets' failed and pending books, the
    newest complete full backup, and file and filesystem sizes."""
    started = time.perf_counter()
    figures = LibraryFigures(gathered_at=time.time())
    _disk_figures(figures, index_path, query_log_path)
    _index_figures(figures, index_path, library_view)
    _backup_figures(figures, store)
    figures.seconds = time.perf_counter() - started
    return figures


def _gauge(name: str, documentation: str, value: float | None) -> Iterator[Metric]:
    if value is not None:
        yield GaugeMetricFamily(name, documentation, value=value)


def families(figures: LibraryFigures, now: float) -> Iterator[Metric]:
    """Return the figures as Prometheus metric families, ages counted up to now."""
    up = GaugeMetricFamily(
        "hbi_library_source_up",
        "Whether the last gathering of library figures could read the source (index, object "
        "store).",
        labels=["source"],
    )
    for source, ok in sorted(figures.sources_up.items()):
        up.add_metric([source], 1.0 if ok else 0.0)
    yield up
    yield GaugeMetricFamily(
        "hbi_library_figures_age_seconds",
        "Seconds since the library figures were gathered (they are cached for HBI_METRICS_TTL_S).",
        value=max(0.0, now - figures.gathered_at),
    )
    yield GaugeMetricFamily(
        "hbi_library_gather_duration_seconds",
        "Seconds the last gathering of library figures took.",
        value=figures.seconds,
    )
    yield from _gauge("hbi_books_indexed", "Books in the search index.", figures.books_indexed)
    yield from _gauge(
        "hbi_chunks_indexed", "Passages (chunks) in the search index.", figures.chunks
    )
    yield from _gauge(
        "hbi_vectors_indexed", "Passage vectors in the search index.", figures.vectors
    )
    yield from _gauge(
        "hbi_books_failed",
        "Books in the books bucket whose last run failed on the book (failures/<book id>.json).",
        figures.books_failed,
    )
    yield from _gauge(
        "hbi_books_pending",
        "Books in the books bucket neither indexed here nor failed: the ingestion lag.",
        figures.books_pending,
    )
    yield from _gauge(
        "hbi_index_size_bytes", "Bytes of the search index file and its WAL.", figures.index_bytes
    )
    yield from _gauge(
        "hbi_index_filesystem_free_bytes",
        "Bytes free on the filesystem that holds the search index.",
        figures.filesystem_free_bytes,
    )
    yield from _gauge(
        "hbi_index_filesystem_size_bytes",
        "Bytes in all of the filesystem that holds the search index.",
        figures.filesystem_size_bytes,
    )
    yield from _gauge(
        "hbi_query_log_size_bytes", "Bytes of the query log (DuckDB).", figures.query_log_bytes
    )
    yield from _gauge(
        "hbi_backup_full_count",
        "Complete full backups in the backups bucket.",
        figures.full_backups,
    )
    if figures.last_full_backup_at is not None:
        yield GaugeMetricFamily(
            "hbi_backup_last_full_timestamp_seconds",
            "When the newest complete full backup was taken (Unix time).",
            value=figures.last_full_backup_at,
        )
        yield GaugeMetricFamily(
            "hbi_backup_last_full_age_seconds",
            "Seconds since the newest complete full backup was taken.",
            value=max(0.0, now - figures.last_full_backup_at),
        )


class LibraryMetrics(Collector):
    """A Prometheus collector of the library's figures, gathered in the background."""

    def __init__(
        self,
        ttl_s: float,
        gather_figures: Callable[[], LibraryFigures],
    ) -> None:
        self._ttl_s = ttl_s
        self._gather = gather_figures
        self._lock = threading.Lock()
        self._figures: LibraryFigures | None = None
        self._gathered_mono = 0.0
        self._gathering: threading.Thread | None = None

    @classmethod
    def from_env(cls) -> LibraryMetrics:
        """Collect from the current HBI_HOME's index and query log and HBI's object store."""
        ttl_s = float(os.environ.get(ENV_METRICS_TTL) or DEFAULT_TTL_S)
        view = LibraryView(_object_store, ttl_s=ttl_s)

        def gather_figures() -> LibraryFigures:
            return gather(Path(default_index_path()), layout().query_log, view, _object_store)

        return cls(ttl_s, gather_figures)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            stale = self._figures is None or time.monotonic() - self._gathered_mono >= self._ttl_s
            if stale and (self._gathering is None or not self._gathering.is_alive()):
                self._gathering = threading.Thread(
                    target=self._gather_in_background, name="hbi-library-metrics", daemon=True
                )
                self._gathering.start()
            gathering = self._gathering
        if self._figures is None and gathering is not None:
            gathering.join(FIRST_WAIT_S)
        figures = self._figures
        if figures is not None:
            yield from families(figures, time.time())

    def _gather_in_background(self) -> None:
        figures = self._gather()
        with self._lock:
            self._figures = figures
            self._gathered_mono = time.monotonic()
