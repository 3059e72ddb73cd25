"""`hbi stack up|down|status|env|provision` and `hbi up`: the local servers and the Dagster UI."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import click

from hbi import config
from hbi.graph.store import Graph
from hbi.stack import LocalStack, ProvisionError, ServerState, StackError
from hbi.stack.dagster_home import ensure_dagster_home
from hbi.stack.provision import minio_install, neo4j_install
from hbi.storage.object_store import ObjectStore


def _fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(1)


def start_stack() -> LocalStack:
    """Start the local stack, create the buckets and load its settings into this process."""
    stack = LocalStack()
    try:
        stack.up()
    except (StackError, ProvisionError) as exc:
        _fail(str(exc))
    os.environ.update(stack.env())
    ObjectStore.from_env().ensure_buckets()
    ensure_dagster_home(config.layout().dagster_home)
    return stack


def _health(stack: LocalStack, states: list[ServerState]) -> dict[str, dict]:
    os.environ.update(stack.env())
    checks = {"minio": ObjectStore.from_env, "neo4j": Graph.from_env}
    health = {}
    for state in states:
        if state.state == "stopped":
            health[state.name] = {"ok": False, "detail": "stopped", "version": None}
        else:
            health[state.name] = checks[state.name]().health().as_dict()
    return health


def _print_states(stack: LocalStack, as_json: bool) -> bool:
    states = stack.status()
    health = _health(stack, states)
    rows = []
    for state in states:
        row = {**state.__dict__, "answers": health[state.name]["ok"]}
        if health[state.name]["detail"]:
            row["detail"] = health[state.name]["detail"]
        if state.state == "external":
            row["version"] = health[state.name]["version"]
        rows.append(row)
    if as_json:
        click.echo(json.dumps({"hbi_home": str(config.hbi_home()), "servers": rows}, indent=2))
    else:
        click.echo(f"HBI_HOME {config.hbi_home()}")
        for row in rows:
            mark = (
                click.style("ok", fg="green") if row["answers"] else click.style("down", fg="red")
            )
            click.echo(
                f"  {row['name']:<6} {row['state']:<8} {mark:<4} {row['endpoint']:<24} "
                f"version={row['version'] or '-'} pid={row['pid'] or '-'} "
                f"data={row['data_dir'] or '-'}"
            )
            if row.get("detail") and row["state"] != "stopped":
                click.echo(f"         {row['detail']}")
    return all(row["answers"] for row in rows)


@click.group()
def stack() -> None:
    """Run real MinIO and Neo4j servers on 127.0.0.1, state under HBI_HOME/stack."""


@stack.command("up")
@click.option("--json", "as_json", is_flag=True, help="Print the servers as JSON.")
def stack_up(as_json: bool) -> None:
    """Provision (first time only) and start MinIO and Neo4j, create the buckets."""
    stack_ = start_stack()
    if not _print_states(stack_, as_json):
        sys.exit(1)
    if not as_json:
        click.echo('Point tools at it with:  eval "$(hbi stack env)"')


@stack.command("down")
def stack_down() -> None:
    """Stop the local servers (their data stays under HBI_HOME/stack)."""
    stopped = LocalStack().down()
    click.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@stack.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the servers as JSON.")
def stack_status(as_json: bool) -> None:
    """Report each server's state, version, endpoint and data folder; exit 1 if one is down."""
    if not _print_states(LocalStack(), as_json):
        sys.exit(1)


@stack.command("env")
def stack_env() -> None:
    """Print the connection settings as `export` lines (for HBI, mc and cypher-shell)."""
    for key, value in LocalStack().client_env().items():
        click.echo(f"export {key}={shlex.quote(value)}")


@stack.command("provision")
def stack_provision() -> None:
    """Build MinIO and fetch Neo4j into HBI_CACHE_DIR without starting anything."""
    try:
        minio = minio_install()
        neo = neo4j_install()
    except ProvisionError as exc:
        _fail(str(exc))
    click.echo(f"minio  {minio.version} ({minio.source}) {minio.binary}")
    click.echo(f"neo4j  {neo.version} ({neo.source}) {neo.lib_dir or neo.script}")


@click.command("up")
@click.option("--port", default=3000, show_default=True, help="Port of the Dagster UI.")
def up(port: int) -> None:
    """Start the local stack, Dagster (webserver + daemon) and a replica of the library into this
    home's index, on 127.0.0.1."""
    start_stack()
    dagster = shutil.which("dagster") or str(Path(sys.executable).with_name("dagster"))
    workspace = Path("workspace.yaml")
    target = ["-w", str(workspace)] if workspace.exists() else ["-m", "hbi_assets.definitions"]
    cmd = [dagster, "dev", *target, "-h", "127.0.0.1", "-p", str(port)]
    # The daemon's `search_index` runs after automation notices new bundles (up to 15 s); the
    # follower applies them within seconds of a book run, so searches here see them sooner.
    hbi = shutil.which("hbi") or str(Path(sys.executable).with_name("hbi"))
    follower = subprocess.Popen([hbi, "replicate"], env=os.environ)
    click.echo(f"Dagster UI: http://127.0.0.1:{port}  (DAGSTER_HOME={os.environ['DAGSTER_HOME']})")
    # A service manager stops `hbi up` with SIGTERM, which would leave Dagster's webserver,
    # daemon and code server running; `dagster dev` shuts them all down on SIGINT (what Ctrl-C
    # sends the whole terminal), so SIGTERM is passed on as that. A shell starts background
    # jobs with SIGINT ignored, which Python would then never turn into KeyboardInterrupt.
    dagster_dev = subprocess.Popen(
        cmd, env=os.environ, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)
    )
    signal.signal(signal.SIGTERM, lambda *_: dagster_dev.send_signal(signal.SIGINT))
    try:
        code = dagster_dev.wait()
    except KeyboardInterrupt:
        dagster_dev.wait()
        code = 130
    finally:
        follower.terminate()
        follower.wait(timeout=10)
    sys.exit(code)
