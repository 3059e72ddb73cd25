"""`hbi serve`: the HTTP API (search, books, ToCs, health, metrics) on uvicorn."""

from __future__ import annotations

import ipaddress
import threading

import click

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """Return whether host only accepts connections from this machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--api-key",
    envvar="HBI_API_KEY",
    show_envvar=True,
    help="Require this X-API-Key header on every route but /health.",
)
@click.option("--allow-open", is_flag=True, help="Listen beyond loopback even without an API key.")
@click.option(
    "--replicate",
    "follow_library",
    is_flag=True,
    help="Keep this home's index in step with the library's bundles while serving (a replica).",
)
def serve(
    host: str, port: int, api_key: str | None, allow_open: bool, follow_library: bool
) -> None:
    """Serve the search API and a small search page over HTTP."""
    if not is_loopback(host) and not api_key and not allow_open:
        raise click.UsageError(
            f"--host {host} is reachable from other machines: set --api-key (or HBI_API_KEY), "
            "or pass --allow-open to serve it without one"
        )
    import uvicorn

    from hbi.api import create_app

    app = create_app(api_key=api_key or None)
    protection = "API key required" if api_key else "no API key"
    stop = threading.Event()
    if follow_library:
        _start_replication(stop)
    click.echo(f"HBI API on http://{host}:{port} ({protection}); docs at /docs")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
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
    click.echo(f"replica in step: {len(first.applied)} books applied in {first.seconds}s")
    threading.Thread(
        target=follow,
        kwargs={
            "store": store,
            "index_path": index_path,
            "model_id": model_id,
            "log": lambda message: click.echo(message, err=True),
            "stop": stop.is_set,
        },
        name="hbi-replicate",
        daemon=True,
    ).start()
