"""The `hbi` command: run the local stack, ingest books, search, back up and restore."""

from __future__ import annotations

import click

from hbi import __version__
from hbi.cli.stack import stack, up


@click.group()
@click.version_option(__version__, prog_name="hbi")
def cli() -> None:
    """HBI: a hybrid (BM25 + vector) index of your books, orchestrated by Dagster."""


cli.add_command(stack)
cli.add_command(up)


def main() -> None:
    """Entry point of the `hbi` console script."""
    cli()
