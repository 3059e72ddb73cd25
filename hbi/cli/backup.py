"""`hbi backup | backups | restore | wipe`: full backups, and getting the indexes back from them."""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from pathlib import Path

import click

from hbi import logs
from hbi.backup.restore import RestoreReport, Services, restore_books, restore_full
from hbi.bundle.bucket import BackupError, describe_full_backups
from hbi.catalog import default_catalog_path
from hbi.cli.books import QUIET_RUN_CONFIG, failure_message, prepare_environment, refresh_catalog
from hbi.graph.store import Graph
from hbi.index.db import default_index_path
from hbi.storage.object_store import ObjectStore
from hbi_resources.embedder import EmbedderResource


def run_full_backup(keep_daily: int, keep_weekly: int) -> dict:
    """Run the full_backup job through Dagster; return the backup's metadata and check result."""
    import dagster as dg

    from hbi_assets.definitions import defs

    config = {"keep_daily": keep_daily, "keep_weekly": keep_weekly}
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def("full_backup").execute_in_process(
            instance=instance,
            run_config={**QUIET_RUN_CONFIG, "ops": {"library_backup": {"config": config}}},
            raise_on_error=False,
        )
    failures = [failure_message(e) for e in result.all_events if e.is_step_failure]
    if failures:
        raise click.ClickException(f"full backup failed (run {result.run_id}): {failures[0]}")
    [materialization] = result.asset_materializations_for_node("library_backup")
    checks = result.get_asset_check_evaluations()
    return {
        "run_id": result.run_id,
        **{k: v.value for k, v in materialization.metadata.items()},
        "verified": all(c.passed for c in checks) and bool(checks),
        "verification": {k: v.value for c in checks for k, v in c.metadata.items()},
    }


@click.command("backup")
@click.option("--keep-daily", default=7, show_default=True, help="Daily full backups to keep.")
@click.option("--keep-weekly", default=4, show_default=True, help="Weekly full backups to keep.")
@click.option("--json", "as_json", is_flag=True)
def backup(keep_daily: int, keep_weekly: int, as_json: bool) -> None:
    """Take a full backup now (the library's bundles and the catalog), verify it, apply
    retention; print its id."""
    prepare_environment()
    outcome = run_full_backup(keep_daily, keep_weekly)
    if as_json:
        click.echo(json.dumps(outcome, indent=2, default=str))
    else:
        click.echo(outcome["backup_id"])
        logs.echo(
            f"  {outcome['books']} books, {outcome['chunks']} chunks, "
            f"{outcome['bytes'] / 1e6:.1f} MB in {outcome['duration_s']}s at {outcome['location']}",
            err=True,
            backup_id=outcome["backup_id"],
        )
        if outcome["retention_deleted"]:
            logs.echo(
                f"  retention deleted: {', '.join(outcome['retention_deleted'])}",
                err=True,
                deleted=outcome["retention_deleted"],
            )
    if not outcome["verified"]:
        logs.echo(
            f"verification FAILED: {outcome['verification']}",
            err=True,
            level=logging.ERROR,
            backup_id=outcome["backup_id"],
        )
        sys.exit(1)


@click.command("backups")
@click.option("--json", "as_json", is_flag=True)
def backups(as_json: bool) -> None:
    """List the full backups in the backups bucket, newest first."""
    prepare_environment()
    listed = describe_full_backups(ObjectStore.from_env())
    if as_json:
        click.echo(json.dumps(listed, indent=2))
        return
    for entry in listed:
        click.echo(
            f"{entry['backup_id']}  {entry['books']:>5} books  {entry['bytes'] / 1e6:8.1f} MB  "
            f"{entry['model_id']}"
        )


@click.command("restore")
@click.argument("book_ids", nargs=-1)
@click.option("--backup", "backup_id", help="Full backup id to restore (see `hbi backups`).")
@click.option("--latest", is_flag=True, help="Restore the newest full backup (the default).")
@click.option(
    "--books",
    "only_books",
    is_flag=True,
    help="Restore just the BOOK_IDS given, from their per-book bundles.",
)
@click.option(
    "--re-embed",
    is_flag=True,
    help="If the backup's model differs from this installation's, embed the books' text again "
    "with this one (new bundles) instead of refusing.",
)
@click.option("--json", "as_json", is_flag=True)
def restore(
    book_ids: tuple[str, ...],
    backup_id: str | None,
    latest: bool,
    only_books: bool,
    re_embed: bool,
    as_json: bool,
) -> None:
    """Point the library back at saved bundles and project them: index, graph, catalog.

    \b
    hbi restore --latest                 everything, from the newest full backup
    hbi restore --backup 20261122T023000Z
    hbi restore --books ID [ID ...]      single books, from their newest bundles
    """
    import dagster as dg

    from hbi_assets.restore_events import report_restore

    if backup_id and latest:
        raise click.UsageError("--backup and --latest name different backups; give one")
    if bool(book_ids) != only_books:
        raise click.UsageError("give book ids after --books, and --books with book ids")
    prepare_environment()
    services = Services.from_env()
    model = EmbedderResource().model()
    embed = model.embed_chunks
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if only_books:
                report = restore_books(
                    services, list(book_ids), backup_id, model.model_id, Path(tmp), re_embed, embed
                )
            else:
                report = restore_full(
                    services, backup_id, model.model_id, Path(tmp), re_embed, embed
                )
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    with dg.DagsterInstance.get() as instance:
        events = report_restore(instance, report)
    if only_books:
        refresh_catalog()
    _print_report(report, events, as_json)


def _print_report(report: RestoreReport, events: int, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({**report.as_dict(), "dagster_events": events}))
        return
    counts = ", ".join(f"{k}={v}" for k, v in report.counts.items())
    click.echo(
        f"restored {len(report.books)} books from {report.backup_id or 'their latest bundles'} "
        f"in {report.seconds}s ({counts}); {events} materializations reported to Dagster"
    )
    if report.re_embedded:
        click.echo("re-embedded with this installation's model into new bundles")


@click.command("wipe")
@click.option("--indexes", is_flag=True, help="The FTS5/vector index, the catalog, the graph.")
@click.option("--yes", is_flag=True, help="Do it without asking.")
def wipe(indexes: bool, yes: bool) -> None:
    """Destroy this home's index and catalog and the graph (never the buckets): what to do before
    restoring over a damaged installation."""
    if not indexes:
        raise click.UsageError("say what to wipe: --indexes")
    prepare_environment()
    files = [
        Path(f"{base}{suffix}")
        for base, suffixes in (
            (default_index_path(), ("", "-wal", "-shm")),
            (default_catalog_path(), ("", ".wal")),
        )
        for suffix in suffixes
    ]
    graph = Graph.from_env()
    if not yes:
        click.confirm(
            f"Delete {', '.join(str(f) for f in files if f.exists())} and every book in "
            f"{graph.uri}?",
            abort=True,
        )
    removed = [str(f) for f in files if f.exists()]
    for path in files:
        path.unlink(missing_ok=True)
    nodes = graph.delete_orphans(set())
    click.echo(f"removed {', '.join(removed) or 'no index files'}; {nodes} graph nodes deleted")
