"""`hbi sync`: one evaluation of the books-bucket sensor, then its runs, as the daemon would."""

from __future__ import annotations

import json
import sys
import time

import click

from hbi import logs
from hbi.cli.books import (
    QUIET_RUN_CONFIG,
    failure_message,
    materialize_books,
    prepare_environment,
    refresh_catalog,
)


def sync_once() -> dict:
    """Evaluate the sensor once, apply its partition changes and run what it requested.

    New and changed books run the ingest job (bundle, ToC graph), as the daemon's runs of the
    sensor's requests do, deletions run the removal job, and the library is projected into this
    home's index. The listing is recorded once the runs are done, so an interrupted sync leaves
    its objects to the next look. Returns the tick's summary and each run's outcome.
    """
    import dagster as dg

    from hbi.books.listing_state import ListingState
    from hbi.storage.object_store import ObjectStore
    from hbi_assets.definitions import defs
    from hbi_assets.library import remove_books_job
    from hbi_assets.sensors import evaluate_books_bucket

    started = time.perf_counter()
    state = ListingState()
    tick = evaluate_books_bucket(ObjectStore.from_env(), state, _Log())
    result = tick.result
    if isinstance(result, dg.SkipReason):
        raise click.ClickException(result.skip_message or "sensor skipped")
    summary = json.loads(result.cursor or "{}")
    with dg.DagsterInstance.get() as instance:
        for request in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(
                request.partitions_def_name, list(request.partition_keys)
            )
    ingest_ids = [r.partition_key for r in result.run_requests if r.partition_key]
    outcomes = materialize_books(ingest_ids) if ingest_ids else []
    removal = [r for r in result.run_requests if r.job_name == remove_books_job.name]
    with dg.DagsterInstance.get() as instance:
        for request in removal:
            run = defs.resolve_job_def(remove_books_job.name).execute_in_process(
                run_config={**request.run_config, **QUIET_RUN_CONFIG},
                instance=instance,
                raise_on_error=False,
            )
            errors = [failure_message(e) for e in run.all_events if e.is_step_failure]
            book_ids = request.run_config["ops"]["remove_books"]["config"]["book_ids"]
            outcomes.append(
                {
                    "removed": book_ids,
                    "success": run.success,
                    "run_id": run.run_id,
                    "errors": errors,
                }
            )
    if removal or not ingest_ids:
        refresh_catalog()
    state.record(tick.upserts, tick.deleted)
    return {"tick": summary, "runs": outcomes, "seconds": round(time.perf_counter() - started, 2)}


class _Log:
    """The sensor's log, printed to stderr when run from the CLI."""

    def info(self, message: str) -> None:
        logs.echo(message, err=True)


@click.command("sync")
@click.option("--json", "as_json", is_flag=True)
def sync(as_json: bool) -> None:
    """Evaluate the books-bucket sensor once and run the requested runs to completion."""
    prepare_environment()
    report = sync_once()
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        tick = report["tick"]
        click.echo(
            f"{tick.get('objects', 0)} objects: {tick.get('added', 0)} added, "
            f"{tick.get('changed', 0)} changed, {tick.get('deleted', 0)} deleted, "
            f"{tick.get('ignored', 0)} ignored ({report['seconds']} s)"
        )
        for run in report["runs"]:
            name = run.get("book_id") or "removed " + ", ".join(run["removed"])
            click.echo(f"  {'ok' if run['success'] else 'FAILED'}  {name}")
            for error in run["errors"]:
                click.echo(f"        {error}")
    if not all(run["success"] for run in report["runs"]):
        sys.exit(1)
