"""The `hbi` command: run the local stack, ingest books, search, back up and restore."""

from __future__ import annotations

import warnings

import click

from hbi import __version__
from hbi.cli.backup import backup, backups, restore, wipe
from hbi.cli.books import add, books, embed, ingest, materialize, search, toc
from hbi.cli.serve import serve
from hbi.cli.stack import stack, up
from hbi.cli.sync import sync
from hbi.eval.cli import eval_group


@click.group()
@click.version_option(__version__, prog_name="hbi")
def cli() -> None:
    """HBI: a hybrid (BM25 + vector) index of your books, orchestrated by Dagster."""


for command in (
    stack,
    up,
    add,
    materialize,
    ingest,
    sync,
    books,
    toc,
    search,
    embed,
    eval_group,
    serve,
    backup,
    backups,
    restore,
    wipe,
):
    cli.add_command(command)


def main() -> None:
    """Entry point of the `hbi` console script."""
    import dagster as dg

    # HBI pins Dagster; its notes on preview APIs (partitioned asset checks) are for developers,
    # not for someone running a command.
    for category in (dg.PreviewWarning, dg.BetaWarning):
        warnings.filterwarnings("ignore", category=category)
    cli()
