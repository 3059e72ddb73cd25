"""The `hbi` command: run the local stack, ingest books, search, back up and restore."""

from __future__ import annotations

import click

from hbi import __version__
from hbi.cli.books import add, books, embed, ingest, materialize, search, toc
from hbi.cli.stack import stack, up


@click.group()
@click.version_option(__version__, prog_name="hbi")
def cli() -> None:
    """HBI: a hybrid (BM25 + vector) index of your books, orchestrated by Dagster."""


for command in (stack, up, add, materialize, ingest, books, toc, search, embed):
    cli.add_command(command)


def main() -> None:
    """Entry point of the `hbi` console script."""
    cli()
