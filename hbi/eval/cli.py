"""`hbi eval beir DIR [--json]`: retrieval quality of the three search modes on a BEIR dataset."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from hbi.eval.beir import BeirFormatError, evaluate_beir

METRICS = ("ndcg@10", "recall@100", "mrr@10")


@click.group("eval")
def eval_group() -> None:
    """Measure search quality."""


@eval_group.command("beir")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def beir(folder: Path, as_json: bool) -> None:
    """Index a BEIR dataset into a temporary index and score lexical, semantic and hybrid."""
    progress = None if as_json else (lambda message: click.echo(message, err=True))
    try:
        report = evaluate_beir(folder, progress=progress)
    except BeirFormatError as exc:
        raise click.UsageError(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"{report['queries']} queries over {report['docs']} documents")
    click.echo(f"{'mode':<10}" + "".join(f"{name:>12}" for name in METRICS))
    for mode in ("lexical", "semantic", "hybrid"):
        if mode in report:
            click.echo(f"{mode:<10}" + "".join(f"{report[mode][m]:>12.4f}" for m in METRICS))


def main() -> None:
    """Entry point of `python -m hbi.eval`."""
    eval_group(prog_name=f"{Path(sys.executable).name} -m hbi.eval")
