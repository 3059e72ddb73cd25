"""`hbi serve`: the HTTP API (search, books, ToCs, health, metrics) on uvicorn."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import click
from click.core import ParameterSource

from hbi import logs


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--api-key",
    envvar="HBI_API_KEY",
    show_envvar=True,
    help="Require this X-API-Key header on every route but /health. Prefer HBI_API_KEY or "
    "--api-key-file: other users of the machine can read a command line (ps, /proc).",
)
@click.option(
    "--api-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the API key from this file (its first line).",
)
@click.option("--allow-open", is_flag=True, help="Listen beyond loopback even without an API key.")
@click.option(
    "--replicate",
    "follow_library",
    is_flag=True,
    help="Keep this home's index in step with the library's bundles while serving (a replica).",
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    api_key: str | None,
    api_key_file: Path | None,
    allow_open: bool,
    follow_library: bool,
) -> None:
    """Serve the search API, the web app (search, library, reader) and MCP (/mcp) over HTTP."""
    if api_key_file is not None:
        lines = api_key_file.read_text().splitlines()
        api_key = lines[0].strip() if lines else ""
        if not api_key:
            raise click.UsageError(f"--api-key-file {api_key_file} holds no key")
    elif api_key and ctx.get_parameter_source("api_key") is ParameterSource.COMMANDLINE:
        logs.echo(
            "warning: --api-key is visible to other users of this machine (ps, /proc/*/cmdline); "
            "set HBI_API_KEY or use --api-key-file instead",
            err=True,
            level=logging.WARNING,
        )
    from hbi.api.hosts import is_loopback

    loopback = is_loopback(host)
    if not loopback and not api_key and not allow_open:
        raise click.UsageError(
            f"--host {host} is reachable from other machines: set HBI_API_KEY (or "
            "--api-key-file), or pass --allow-open to serve it without one"
        )
    from hbi.api import create_app
    from hbi.api.ratelimit import RateLimitConfigError
    from hbi.api.server import run

    try:
        app = create_app(api_key=api_key or None, loopback_port=port if loopback else None)
    except RateLimitConfigError as exc:
        raise click.ClickException(str(exc)) from None
    protection = "API key required" if api_key else "no API key"
    stop = threading.Event()
    if follow_library:
        _start_replication(stop)
    logs.echo(
        f"HBI API on http://{host}:{port} ({protection}); docs at /docs",
        url=f"http://{host}:{port}",
    )
    try:
        run(app, host, port)
    finally:
        stop.set()


def _start_replication(stop: threading.Event) -> None:
    """Follow the library in a daemon thread until stop is set."""
    from hbi.config import load_stack_env
    from hbi.embedding.model_files import installed_model_id
    from hbi.index.db import default_index_path
    from hbi.index.projection import follow, project_library
    from hbi.storage.object_store import ObjectStore

    load_stack_env()
    store = ObjectStore.from_env()
    model_id = installed_model_id()
    index_path = default_index_path()
    # One pass before serving, so a fresh replica does not answer from an empty index.
    first = project_library(store, index_path, model_id=model_id)
    logs.echo(f"replica in step: {len(first.applied)} books applied in {first.seconds}s")
    threading.Thread(
        target=follow,
        kwargs={
            "store": store,
            "index_path": index_path,
            "model_id": model_id,
            "log": lambda message: logs.echo(message, err=True),
            "stop": stop.is_set,
        },
        name="hbi-replicate",
        daemon=True,
    ).start()
