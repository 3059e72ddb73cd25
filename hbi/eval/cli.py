"""`hbi eval beir DIR [--json]`: retrieval quality of the search modes, with intervals and tests."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from hbi.eval.beir import METRICS, BeirFormatError, evaluate_beir
from hbi.eval.stats import RESAMPLES
from hbi.search import MODES


@click.group("eval")
def eval_group() -> None:
    """Measure search quality."""


@eval_group.command("beir")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--per-query", is_flag=True, help="Add every query's scores per mode to the JSON report."
)
@click.option(
    "--resamples",
    type=click.IntRange(min=100),
    default=RESAMPLES,
    show_default=True,
    help="Bootstrap resamples (and random sign patterns of the paired test).",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the resampling, for reruns."
)
def beir(folder: Path, as_json: bool, per_query: bool, resamples: int, seed: int) -> None:
    """Index a BEIR dataset into a temporary index and score lexical, semantic and hybrid.

    Each mean comes with a 95 % bootstrap interval over queries; each pair of modes with the
    mean per-query difference, its paired-bootstrap interval and a randomisation-test p-value.
    """
    if per_query and not as_json:
        raise click.UsageError("--per-query needs --json")
    progress = None if as_json else (lambda message: click.echo(message, err=True))
    try:
        report = evaluate_beir(
            folder, progress=progress, resamples=resamples, seed=seed, per_query=per_query
        )
    except BeirFormatError as exc:
        raise click.UsageError(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for line in report_table(report):
        click.echo(line)


def report_table(report: dict) -> list[str]:
    """Return the report as text: a row per mode, then a row per compared pair of modes."""
    stats = report["statistics"]
    modes = [mode for mode in MODES if mode in report]
    lines = [
        f"{report['queries']} queries over {report['docs']} documents; "
        f"{stats['confidence']:.0%} bootstrap intervals over queries "
        f"({stats['resamples']} resamples, seed {stats['seed']})",
        f"{'mode':<18}" + "".join(f"{name:<22}" for name in METRICS),
    ]
    for mode in modes:
        cells = [_estimate(report[mode][m], report[mode]["ci95"][m]) for m in METRICS]
        lines.append(f"{mode:<18}" + "".join(f"{cell:<22}" for cell in cells))
    lines += [
        "",
        "paired difference of per-query scores (first - second), its interval, two-sided p",
        f"{'pair':<18}" + "".join(f"{name:<34}" for name in METRICS),
    ]
    for pair, by_metric in report["paired"].items():
        cells = [
            _difference(by_metric[m]["difference"], by_metric[m]["ci95"], by_metric[m]["p"])
            for m in METRICS
        ]
        lines.append(f"{pair:<18}" + "".join(f"{cell:<34}" for cell in cells))
    lines.append(
        f"p: {stats['p']}; not corrected for the {len(METRICS) * len(report['paired'])} tests"
    )
    return [line.rstrip() for line in lines]


def _estimate(mean: float, interval: list[float]) -> str:
    return f"{mean:.3f} [{interval[0]:.2f}, {interval[1]:.2f}]"


def _difference(difference: float, interval: list[float], p: float) -> str:
    shown = "p<0.001" if p < 0.001 else f"p={p:.3f}"
    return f"{difference:+.3f} [{interval[0]:+.3f}, {interval[1]:+.3f}] {shown}"


def main() -> None:
    """Entry point of `python -m hbi.eval`."""
    eval_group(prog_name=f"{Path(sys.executable).name} -m hbi.eval")
