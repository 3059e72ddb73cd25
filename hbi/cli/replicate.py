"""`hbi replicate`: bring this home's index in step with the library's bundles, or follow it."""

from __future__ import annotations

import contextlib
import json
import sys

import click

from hbi import logs
from hbi.config import load_stack_env


@click.command("replicate")
@click.option("--once", is_flag=True, help="One pass, then exit (non-zero if a book failed).")
@click.option(
    "--interval",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0.2, 3600),
    help="Seconds between passes when following.",
)
@click.option("--json", "as_json", is_flag=True, help="With --once: print the pass as JSON.")
def replicate(once: bool, interval: float, as_json: bool) -> None:
    """Bring this home's index in step with the bundles in the bucket (--once), or keep following.

    Only MinIO is needed: new and changed books are applied, removed ones dropped, each whole
    or not at all. Any number of homes can replicate the same bucket.
    """
    from hbi.embedding.model_files import installed_model_id
    from hbi.index.db import default_index_path
    from hbi.index.projection import follow, project_library
    from hbi.storage.object_store import ObjectStore

    load_stack_env()
    store = ObjectStore.from_env()
    model_id = installed_model_id()
    index_path = default_index_path()

    def log(message: str) -> None:
        logs.echo(message, err=True)

    if not once:
        logs.echo(f"following s3://{store.backups_bucket}/library/ into {index_path}", err=True)
        with contextlib.suppress(KeyboardInterrupt):
            follow(store, index_path, interval_s=interval, model_id=model_id, log=log)
        return
    report = project_library(store, index_path, model_id=model_id, log=None if as_json else log)
    if as_json:
        click.echo(json.dumps({"index": index_path, **report.as_dict()}, indent=2))
    else:
        click.echo(
            f"{len(report.applied)} applied, {len(report.removed)} removed, "
            f"{report.unchanged} unchanged, {len(report.failed)} failed in {report.seconds}s"
        )
        for book_id, why in sorted(report.failed.items()):
            click.echo(f"  FAILED {book_id}: {why}", err=True)
    if report.failed:
        sys.exit(1)
