"""The `hbi` command: run the local stack, ingest books, search, back up and restore.

Each command's module is imported only when that command runs, so commands that do not
orchestrate (`search`, `embed`, `--help`) never load Dagster, which takes seconds to import.
"""

from __future__ import annotations

import importlib
import logging
import sys
import warnings

import click

from hbi import __version__, logs

# name: (module, attribute, the one line `hbi --help` shows without importing the module)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "stack": (
        "hbi.cli.stack",
        "stack",
        "Run real MinIO and Neo4j servers on 127.0.0.1, state under HBI_HOME/stack.",
    ),
    "up": (
        "hbi.cli.stack",
        "up",
        "Start the local stack, Dagster (webserver + daemon) and a replica of the library into "
        "this home's index, on 127.0.0.1.",
    ),
    "add": (
        "hbi.cli.books",
        "add",
        "Upload books (files or folders) to the books bucket and register their partitions.",
    ),
    "materialize": (
        "hbi.cli.books",
        "materialize",
        "Run books through Dagster (bundle, ToC graph), then project them into this index.",
    ),
    "ingest": (
        "hbi.cli.books",
        "ingest",
        "Add every book of a folder (default ../shared/corpus) and materialize them all.",
    ),
    "sync": (
        "hbi.cli.sync",
        "sync",
        "Evaluate the books-bucket sensor once and run the requested runs to completion.",
    ),
    "replicate": (
        "hbi.cli.replicate",
        "replicate",
        "Bring this home's index in step with the bundles in the bucket (--once), "
        "or keep following.",
    ),
    "books": ("hbi.cli.books", "books", "List the indexed books with their counts and status."),
    "toc": (
        "hbi.cli.books",
        "toc",
        "Print a book's table of contents from the ToC graph, in reading order.",
    ),
    "search": (
        "hbi.cli.query",
        "search",
        "Search the library: BM25 and vectors fused (hybrid), or either alone.",
    ),
    "embed": (
        "hbi.cli.query",
        "embed",
        "Embed texts read from stdin, one per line, exactly as the index does.",
    ),
    "eval": ("hbi.eval.cli", "eval_group", "Measure search quality."),
    "serve": (
        "hbi.cli.serve",
        "serve",
        "Serve the search API, the web app (search, library, reader) and MCP (/mcp) over HTTP.",
    ),
    "mcp": (
        "hbi.cli.mcp",
        "mcp",
        "Serve the library to an AI assistant as an MCP server over stdio (read-only tools).",
    ),
    "backup": (
        "hbi.cli.backup",
        "backup",
        "Take a full backup now (the library's bundles and the catalog), verify it, apply "
        "retention; print its id.",
    ),
    "backups": (
        "hbi.cli.backup",
        "backups",
        "List the full backups in the backups bucket, newest first.",
    ),
    "restore": (
        "hbi.cli.backup",
        "restore",
        "Point the library back at saved bundles and project them: index, graph, catalog.",
    ),
    "wipe": (
        "hbi.cli.backup",
        "wipe",
        "Destroy this home's index and catalog and the graph (never the buckets): what to do "
        "before restoring over a damaged installation.",
    ),
}


class LazyGroup(click.Group):
    """A group whose commands are imported from COMMANDS when they run, not before."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return the command names, sorted as click sorts them."""
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Return the command, importing its module; None if there is no such command."""
        if cmd_name not in COMMANDS:
            return None
        module, attribute, _ = COMMANDS[cmd_name]
        return getattr(importlib.import_module(module), attribute)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Resolve as click does, suggesting the nearest names for a mistyped command."""
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as exc:
            raise click.exceptions.NoSuchCommand(
                exc.command_name, possibilities=list(COMMANDS), ctx=ctx
            ) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Write the commands and their one-line help from the table, as click lays them out."""
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [
            (name, click.Command(name, help=COMMANDS[name][2]).get_short_help_str(limit))
            for name in self.list_commands(ctx)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="hbi")
def cli() -> None:
    """HBI: a hybrid (BM25 + vector) index of your books, orchestrated by Dagster."""


def main() -> None:
    """Entry point of the `hbi` console script."""
    # HBI pins Dagster; its notes on preview and beta APIs (partitioned asset checks, sensor
    # owners) are for developers, not for someone running a command. Matched by text, so that
    # commands which never load Dagster need not import it to set the filter.
    warnings.filterwarnings(
        "ignore", message=r".* is currently in (beta|preview)", module="dagster"
    )
    try:
        logs.configure()
    except logs.LogFormatError as exc:
        sys.exit(f"Error: {exc}")
    if not logs.json_logs():
        cli()
        return
    # click prints its errors ("Error: no such book", usage mistakes) as text: in JSON mode they
    # are caught here and logged as records like every other line.
    try:
        outcome = cli.main(standalone_mode=False)
    except click.ClickException as exc:
        logging.getLogger(logs.CLI_LOGGER).error(
            exc.format_message(), extra={"exit_code": exc.exit_code}
        )
        sys.exit(exc.exit_code)
    except click.Abort:
        logging.getLogger(logs.CLI_LOGGER).error("aborted", extra={"exit_code": 1})
        sys.exit(1)
    # Without standalone mode, click returns the code a command exits with (--help: 0).
    sys.exit(outcome if isinstance(outcome, int) else 0)
