"""Indexes are projections of the bundles: book runs need no index, and any home that shares only
MinIO with another answers exactly as it does once both are in step (real MinIO and Neo4j)."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from hbi import config
from hbi.bundle.bucket import withdraw_from_library
from hbi.cli import cli
from hbi.cli.books import QUIET_RUN_CONFIG, add_books, materialize_books
from hbi.index.db import default_index_path
from hbi.stack.dagster_home import ensure_dagster_home
from hbi_resources.graph import GraphResource
from hbi_resources.object_store import ObjectStoreResource

pytestmark = pytest.mark.integration

QUERIES = ["the time traveller's machine", "Alice and the Cheshire Cat", "sanitization purge"]


def invoke(*args: str) -> dict:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def answers() -> dict:
    """Every query's hits in every mode, with their scores, from the current HBI_HOME."""
    return {
        (query, mode): [
            (h["book_id"], h["chunk_id"], h["section_id"], h["page_start"], h["score"])
            for h in invoke("search", query, "--mode", mode, "-k", "10", "--json")["hits"]
        ]
        for query in QUERIES
        for mode in ("lexical", "semantic", "hybrid")
    }


def use_home(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Point HBI at another home that shares the session's servers (their variables stay set)."""
    monkeypatch.setenv("HBI_HOME", str(home))
    ensure_dagster_home(config.layout().dagster_home)
    monkeypatch.setenv("DAGSTER_HOME", str(config.layout().dagster_home))


def write_book(folder: Path, name: str, word: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"# A replica test\n\nThe {word} appears in this book alone.\n")
    return path


def test_a_second_home_answers_exactly_as_the_first(
    ingested, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = answers()
    books = {b["book_id"] for b in invoke("books", "--json")}
    use_home(monkeypatch, tmp_path / "replica")
    assert not Path(default_index_path()).exists()

    report = invoke("replicate", "--once", "--json")

    assert set(report["applied"]) == books and not report["failed"]
    assert answers() == first
    assert invoke("replicate", "--once", "--json")["unchanged"] == len(books)


def test_a_book_deleted_in_the_first_home_leaves_the_replica_on_its_next_pass(
    ingested, object_store: ObjectStoreResource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [added] = add_books((write_book(tmp_path / "books", "replica-delete.md", "quokka"),))
    assert materialize_books([added["book_id"]])[0]["success"]
    first_home = config.hbi_home()
    use_home(monkeypatch, tmp_path / "replica")
    assert added["book_id"] in invoke("replicate", "--once", "--json")["applied"]
    assert invoke("search", "quokka", "--mode", "lexical", "--json")["hits"]

    object_store.delete_prefix(object_store.books_bucket, added["object_key"])
    monkeypatch.setenv("HBI_HOME", str(first_home))
    monkeypatch.setenv("DAGSTER_HOME", str(config.layout().dagster_home))
    synced = invoke("sync", "--json")
    assert [added["book_id"]] in [run.get("removed") for run in synced["runs"]]
    use_home(monkeypatch, tmp_path / "replica")

    assert invoke("replicate", "--once", "--json")["removed"] == [added["book_id"]]
    assert not invoke("search", "quokka", "--mode", "lexical", "--json")["hits"]


def test_a_book_run_in_a_home_without_an_index_makes_the_book_searchable_elsewhere(
    stack,
    object_store: ObjectStoreResource,
    graph: GraphResource,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hbi_assets.books import OBJECT_KEY_TAG
    from hbi_assets.definitions import defs

    book = write_book(tmp_path / "books", "worker-run.md", "axolotl")
    object_store.ensure_buckets()
    object_store.put_file(object_store.books_bucket, book.name, str(book), "text/markdown")
    use_home(monkeypatch, tmp_path / "worker")
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions("books", [book.name])
        run = defs.resolve_job_def("ingest_book").execute_in_process(
            partition_key=book.name,
            instance=instance,
            run_config=QUIET_RUN_CONFIG,
            tags={OBJECT_KEY_TAG: book.name},
        )
    assert run.success
    assert not (tmp_path / "worker" / "index").exists()

    use_home(monkeypatch, tmp_path / "reader")
    assert book.name in invoke("replicate", "--once", "--json")["applied"]
    [hit] = invoke("search", "axolotl", "--mode", "lexical", "--json")["hits"]
    assert hit["book_id"] == book.name
    object_store.delete_prefix(object_store.books_bucket, book.name)
    withdraw_from_library(object_store, book.name)
    graph.delete_book(book.name)
