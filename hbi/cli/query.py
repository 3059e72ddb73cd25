"""`hbi search | embed`: answers from the index, and the model's vectors, without Dagster."""

from __future__ import annotations

import json
import sys

import click

from hbi.config import layout, load_stack_env
from hbi.search.models import SearchError, SearchFilters
from hbi.search.query_log import QueryLog, QueryLogEntry
from hbi.search.service import search_from_env


@click.command("search")
@click.argument("query")
@click.option(
    "--mode",
    type=click.Choice(["hybrid", "lexical", "semantic"]),
    default="hybrid",
    show_default=True,
)
@click.option("--book", "book_ids", multiple=True, help="Only these book ids (repeatable).")
@click.option("--author", "authors", multiple=True, help="Only books by these authors.")
@click.option("--format", "formats", multiple=True, help="Only these formats (pdf, epub, …).")
@click.option("--section", "section_id", help="Only inside this ToC section and its subsections.")
@click.option("-k", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--offset", default=0, show_default=True, type=click.IntRange(0, 10_000))
@click.option("--per-book", is_flag=True, help="Only the best passage of each book.")
@click.option("--context", is_flag=True, help="Add the previous and next passage to each hit.")
@click.option("--explain", is_flag=True, help="Show each hit's rank and score in each list.")
@click.option("--json", "as_json", is_flag=True)
def search(
    query: str,
    mode: str,
    book_ids: tuple[str, ...],
    authors: tuple[str, ...],
    formats: tuple[str, ...],
    section_id: str | None,
    k: int,
    offset: int,
    per_book: bool,
    context: bool,
    explain: bool,
    as_json: bool,
) -> None:
    """Search the library: BM25 and vectors fused (hybrid), or either alone."""
    load_stack_env()
    filters = SearchFilters(
        book_ids=book_ids, authors=authors, formats=formats, section_id=section_id
    )
    try:
        result = search_from_env().search(
            query,
            mode=mode,
            k=k,
            offset=offset,
            filters=filters,
            explain=explain,
            collapse_books=per_book,
            context=context,
        )
    except SearchError as exc:
        raise click.ClickException(str(exc)) from exc
    # Queued, not appended: DuckDB takes longer to import than a lexical search takes to run.
    QueryLog(layout().query_log).queue(QueryLogEntry.from_result(result, "cli"))
    payload = result.as_dict(with_plan=explain)
    if as_json:
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    click.echo(f"{len(payload['hits'])} hits for {query!r} ({mode}, {payload['took_ms']} ms)")
    for hit in payload["hits"]:
        where = " › ".join(hit["section_path"]) or "(front matter)"
        label = hit["page_label"] or hit["page_start"]
        page = f", p. {label}" if hit["page_start"] else ""
        click.echo(f"{hit['rank']:>2}. {hit['title']} — {where}{page}")
        click.echo(f"    {hit['snippet']}")
        if explain and hit.get("explain"):
            click.echo(f"    explain: {json.dumps(hit['explain'])}")


@click.command("embed")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of JSON lines.")
def embed(as_json: bool) -> None:
    """Embed texts read from stdin, one per line, exactly as the index does."""
    # Here, not at the top: loading ONNX Runtime and numpy would slow every search.
    import numpy as np

    from hbi.embedding import MiniLMEmbedder

    texts = [line.rstrip("\n") for line in sys.stdin]
    model = MiniLMEmbedder()
    vectors = model.embed(texts) if texts else np.zeros((0, model.dim), np.float32)
    if as_json:
        payload = {
            "model": model.model_id,
            "dim": model.dim,
            "embeddings": [[round(float(x), 7) for x in v] for v in vectors],
        }
        click.echo(json.dumps(payload))
        return
    for vector in vectors:
        click.echo(json.dumps([round(float(x), 7) for x in vector]))
