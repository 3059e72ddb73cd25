"""`hbi add | materialize | ingest | books | toc`: books in, and what the index holds."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import click

from hbi import logs
from hbi.books.ids import book_id_for_key, is_book_key
from hbi.books.listing import SeenObject
from hbi.books.listing_state import ListingState
from hbi.config import layout, load_stack_env
from hbi.graph.store import Graph
from hbi.index import reads
from hbi.index.db import connect, default_index_path
from hbi.stack.dagster_home import ensure_dagster_home
from hbi.storage.object_store import ObjectStore

DEFAULT_SAMPLE_DIR = Path("../shared/corpus")
# Runs' events still reach the Dagster UI in full; the terminal only shows warnings and errors.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
CONTENT_TYPES = {".pdf": "application/pdf", ".epub": "application/epub+zip", ".md": "text/markdown"}


def prepare_environment() -> None:
    load_stack_env()
    ensure_dagster_home(layout().dagster_home)


def _book_files(paths: tuple[Path, ...]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(p for p in sorted(path.iterdir()) if p.is_file() and is_book_key(p.name))
        else:
            files.append(path)
    return files


def add_books(paths: tuple[Path, ...], key: str | None = None) -> list[dict]:
    """Upload book files to the books bucket, register their partitions; return what was added.

    The daemon's sensor ingests them on its next tick; `hbi ingest` and `hbi materialize` run
    them at once instead, and record them as seen so that the sensor does not run them again.
    """
    import dagster as dg

    from hbi_assets.partitions import books_partitions

    store = ObjectStore.from_env()
    store.ensure_buckets()
    files = _book_files(paths)
    keys_by_id = _keys_by_id(store)
    if key and len(files) != 1:
        raise click.UsageError("--key names one object, so give exactly one file")
    owners: dict[str, str] = {}
    for file in files:
        object_key = key or file.name
        book_id = book_id_for_key(object_key)
        holder = owners.get(book_id) or keys_by_id.get(book_id)
        if holder is not None and holder != object_key:
            # Checked before anything is uploaded: one book must never replace another.
            raise click.ClickException(
                f"{object_key}: its book id {book_id!r} already belongs to {holder!r}; "
                "rename one of the two (or remove the other book first)"
            )
        owners[book_id] = object_key
    added = []
    for file in files:
        object_key = key or file.name
        book_id = book_id_for_key(object_key)
        content_type = CONTENT_TYPES.get(file.suffix.lower(), "text/plain")
        etag = store.put_file(store.books_bucket, object_key, str(file), content_type)
        added.append({"book_id": book_id, "object_key": object_key, "etag": etag})
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(books_partitions.name, [a["book_id"] for a in added])
    return added


def _keys_by_id(store: ObjectStore) -> dict[str, str]:
    """Return the object key holding each book id in the books bucket (one listing)."""
    found: dict[str, str] = {}
    for obj in store.list_objects(store.books_bucket):
        if is_book_key(obj.object_name):
            found.setdefault(book_id_for_key(obj.object_name), obj.object_name)
    return found


def materialize_books(book_ids: list[str]) -> list[dict]:
    """Run the ingest job for each book through Dagster (runs show in the UI), then project the
    library into this home's index; return the runs' outcomes.

    Each object run is recorded as seen by the books sensor, with the ETag it had when its run
    started, so the daemon does not run it again (it does if the object changes).
    """
    import dagster as dg

    from hbi_assets.books import OBJECT_KEY_TAG
    from hbi_assets.definitions import defs
    from hbi_assets.partitions import books_partitions

    job = defs.resolve_job_def("ingest_book")
    store = ObjectStore.from_env()
    state = ListingState()
    keys_by_id = _keys_by_id(store)
    outcomes = []
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(books_partitions.name, book_ids)
        for book_id in book_ids:
            started = time.perf_counter()
            key = keys_by_id.get(book_id)
            etag = store.etag(store.books_bucket, key) if key else None
            result = job.execute_in_process(
                partition_key=book_id,
                instance=instance,
                run_config=QUIET_RUN_CONFIG,
                tags={OBJECT_KEY_TAG: key} if key else {},
                raise_on_error=False,
            )
            errors = [
                (event.step_key, failure_message(event))
                for event in result.all_events
                if event.is_step_failure
            ]
            if etag is not None:
                generation = state.generations([key]).get(key, 0) + 1
                state.record([SeenObject(key, etag, book_id, generation)], [])
            outcomes.append(
                {
                    "book_id": book_id,
                    "success": result.success,
                    "run_id": result.run_id,
                    "seconds": round(time.perf_counter() - started, 2),
                    "errors": [f"{step}: {message}" for step, message in errors],
                }
            )
    refresh_catalog()
    return outcomes


def refresh_catalog() -> bool:
    """Project the library into this home's index and rebuild the catalog through Dagster
    (what automation does under the daemon)."""
    import dagster as dg

    from hbi_assets.definitions import defs

    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def("refresh_index").execute_in_process(
            instance=instance, run_config=QUIET_RUN_CONFIG, raise_on_error=False
        )
    for event in result.all_events:
        if event.is_step_failure:
            logs.echo(
                f"refresh_index (run {result.run_id[:8]}) {event.step_key}: "
                f"{failure_message(event)}",
                err=True,
                level=logging.ERROR,
                run_id=result.run_id,
                step=event.step_key,
            )
    return result.success


def failure_message(event) -> str:
    data = event.step_failure_data
    if data.user_failure_data and data.user_failure_data.description:
        return data.user_failure_data.description
    messages = []
    error = data.error
    while error is not None:
        messages.append(error.message.strip())
        error = error.cause
    return " ← caused by: ".join(messages) or "failed"


def _report_runs(outcomes: list[dict], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(outcomes, indent=2))
    elif logs.json_logs():
        for outcome in outcomes:
            ok = outcome["success"]
            logs.echo(
                f"{'ok' if ok else 'FAILED'} {outcome['book_id']}",
                level=logging.INFO if ok else logging.ERROR,
                book_id=outcome["book_id"],
                run_id=outcome["run_id"],
                seconds=outcome["seconds"],
                errors=outcome["errors"],
            )
    else:
        for outcome in outcomes:
            mark = (
                click.style("ok", fg="green")
                if outcome["success"]
                else click.style("FAILED", fg="red")
            )
            click.echo(
                f"{mark:<6} {outcome['book_id']}  "
                f"({outcome['seconds']}s, run {outcome['run_id'][:8]})"
            )
            for error in outcome["errors"]:
                click.echo(f"       {error}")
    if not all(o["success"] for o in outcomes):
        sys.exit(1)


@click.command("add")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--key", help="Object key for a single file (default: its file name).")
@click.option("--json", "as_json", is_flag=True)
def add(paths: tuple[Path, ...], key: str | None, as_json: bool) -> None:
    """Upload books (files or folders) to the books bucket and register their partitions."""
    prepare_environment()
    added = add_books(paths, key)
    if as_json:
        click.echo(json.dumps(added, indent=2))
    else:
        for item in added:
            click.echo(f"{item['book_id']}  ←  {item['object_key']}  (etag {item['etag']})")


@click.command("materialize")
@click.argument("book_ids", nargs=-1)
@click.option("--all", "all_books", is_flag=True, help="Every registered book.")
@click.option("--json", "as_json", is_flag=True)
def materialize(book_ids: tuple[str, ...], all_books: bool, as_json: bool) -> None:
    """Run books through Dagster (bundle, ToC graph), then project them into this index."""
    prepare_environment()
    import dagster as dg

    from hbi_assets.partitions import books_partitions

    ids = list(book_ids)
    if all_books:
        with dg.DagsterInstance.get() as instance:
            ids = sorted(instance.get_dynamic_partitions(books_partitions.name))
    if not ids:
        raise click.UsageError("name at least one BOOK_ID, or --all")
    _report_runs(materialize_books(ids), as_json)


@click.command("ingest")
@click.argument("folder", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def ingest(folder: Path | None, as_json: bool) -> None:
    """Add every book of a folder (default ../shared/corpus) and materialize them all."""
    folder = folder or DEFAULT_SAMPLE_DIR
    if not folder.is_dir():
        raise click.UsageError(f"{folder} is not a folder; name the folder of books to ingest")
    prepare_environment()
    added = add_books((folder,))
    if not as_json:
        click.echo(f"added {len(added)} books from {folder}; materializing through Dagster…")
    _report_runs(materialize_books([a["book_id"] for a in added]), as_json)


@click.command("books")
@click.option("--json", "as_json", is_flag=True)
def books(as_json: bool) -> None:
    """List the indexed books with their counts and status."""
    prepare_environment()
    rows = reads.book_summaries(connect(default_index_path()))
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        click.echo(
            f"{row['book_id']:<60} {row['format']:<8} {row['language'] or '-':<5} "
            f"chunks={row['chunks']:<5} toc={row['toc_entries']:<3} {row['status']:<9} "
            f"{row['title']}{_ocr_note(row['ocr'])}"
        )


@click.command("toc")
@click.argument("book_id")
@click.option("--json", "as_json", is_flag=True)
def toc(book_id: str, as_json: bool) -> None:
    """Print a book's table of contents from the ToC graph, in reading order."""
    prepare_environment()
    entries = Graph.from_env().toc(book_id)
    if not entries:
        raise click.ClickException(f"{book_id}: no ToC in the graph (is the book materialized?)")
    if as_json:
        shaped = [{"level": e["level"], "title": e["title"], "page": e["page"]} for e in entries]
        click.echo(json.dumps(shaped, indent=1, ensure_ascii=False))
        return
    for entry in entries:
        page = f"  p. {entry['page_label'] or entry['page']}" if entry["page"] else ""
        click.echo(f"{'  ' * (len(entry['path']) - 1)}{entry['title']}{page}")


def _ocr_note(ocr: dict | None) -> str:
    """The OCR'd pages of a book as `hbi books` lists them (nothing for a book without)."""
    if ocr is None:
        return ""
    return f"  [OCR: pages {ocr['page_ranges']}, {ocr['mean_confidence']}% confidence]"
