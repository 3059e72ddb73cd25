"""The whole corpus ingests through Dagster into bundles in MinIO, the Neo4j graph and the index
projected from the bundles (FTS5, sqlite-vec)."""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import dagster as dg
import numpy as np
import pytest
from click.testing import CliRunner

from hbi.bundle.files import read_bundle
from hbi.cli import cli
from hbi.cli.books import add_books, materialize_books
from hbi.index import reads
from hbi.index.db import connect, default_index_path
from hbi_resources.embedder import EmbedderResource
from hbi_resources.graph import GraphResource
from hbi_resources.object_store import ObjectStoreResource
from hbi_resources.search import SearchResource
from tests.conftest import shared_dir
from tests.extract.extract_samples import body_lines, build_pdf, build_zip, epub_entries

pytestmark = pytest.mark.integration


def corpus_books() -> list[Path]:
    folder = shared_dir() / "corpus"
    books = sorted(p for p in folder.iterdir() if p.is_file() and p.name != "MANIFEST.md")
    assert len(books) == 8, f"expected the 8 shared books in {folder}"
    return books


def index_counts(book_id: str) -> dict[str, int]:
    connection = connect(default_index_path())
    one = lambda sql: connection.execute(sql, (book_id,)).fetchone()[0]  # noqa: E731
    return {
        "chunks": one("SELECT count(*) FROM chunks WHERE book_id = ?"),
        "sections": one("SELECT count(*) FROM sections WHERE book_id = ?"),
        "vectors": one(
            "SELECT count(*) FROM chunk_vectors WHERE chunk_id IN "
            "(SELECT chunk_id FROM chunks WHERE book_id = ?)"
        ),
        "fts": one(
            "SELECT count(*) FROM chunks_fts WHERE rowid IN "
            "(SELECT chunk_id FROM chunks WHERE book_id = ?)"
        ),
    }


def index():
    return connect(default_index_path())


def book_vectors(book_id: str) -> tuple[list[int], np.ndarray]:
    """Return the book's chunk ids in reading order and their vectors."""
    rows = (
        index()
        .execute(
            "SELECT c.chunk_id, v.embedding FROM chunks c JOIN chunk_vectors v USING (chunk_id) "
            "WHERE c.book_id = ? ORDER BY c.ordinal",
            (book_id,),
        )
        .fetchall()
    )
    return [r[0] for r in rows], np.stack([np.frombuffer(r[1], np.float32) for r in rows])


def sentence_vectors(book_id: str) -> dict[int, np.ndarray]:
    """Return the book's sentence vectors by chunk id, in order."""
    found: dict[int, list[np.ndarray]] = {}
    for chunk_id, blob in index().execute(
        "SELECT s.chunk_id, s.embedding FROM chunks c JOIN sentence_vectors s USING (chunk_id) "
        "WHERE c.book_id = ? ORDER BY s.chunk_id, s.ordinal",
        (book_id,),
    ):
        found.setdefault(chunk_id, []).append(np.frombuffer(blob, np.float32))
    return {chunk_id: np.stack(rows) for chunk_id, rows in found.items()}


def lexical_book_ids(query: str, k: int) -> set[str]:
    """Return the books of the top k passages of a lexical search (the real search path)."""
    hits = SearchResource().search(query, mode="lexical", k=k).as_dict()["hits"]
    return {hit["book_id"] for hit in hits}


def orphan_vectors() -> int:
    return (
        connect(default_index_path())
        .execute(
            "SELECT count(*) FROM chunk_vectors WHERE chunk_id NOT IN (SELECT chunk_id FROM chunks)"
        )
        .fetchone()[0]
    )


def latest_metadata(asset: str, book_id: str) -> dict:
    with dg.DagsterInstance.get() as instance:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[book_id]),
            limit=1,
        ).records
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


def test_every_corpus_book_materializes(ingested: dict[str, dict]) -> None:
    assert len(ingested) == 8
    failed = {k: v["errors"] for k, v in ingested.items() if not v["success"]}
    assert not failed


def test_a_sync_after_ingesting_runs_none_of_the_ingested_books(ingested) -> None:
    result = CliRunner().invoke(cli, ["sync", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    ran = {run.get("book_id") for run in report["runs"]}
    assert not ran & set(ingested)


@pytest.mark.parametrize("path", corpus_books(), ids=lambda p: p.name)
def test_toc_from_the_graph_equals_the_expected_toc(ingested, path: Path) -> None:
    expected = json.loads(
        (shared_dir() / "corpus" / "expected-toc" / f"{path.stem}.toc.json").read_text()
    )
    result = CliRunner().invoke(cli, ["toc", path.name, "--json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    assert [(e["level"], e["title"], e.get("page")) for e in expected] == [
        (e["level"], e["title"], e["page"]) for e in got
    ]


@pytest.mark.parametrize("path", corpus_books(), ids=lambda p: p.name)
def test_chunk_vector_and_section_counts_agree(ingested, graph: GraphResource, path) -> None:
    book_id = path.name
    counts = index_counts(book_id)
    book = reads.book(index(), book_id)
    assert counts["chunks"] == counts["vectors"] == counts["fts"] == book["chunk_count"] > 0
    graph_counts = graph.counts(book_id)
    assert graph_counts["sections"] == counts["sections"] == book["toc_entries"]
    assert graph_counts["next_links"] == counts["sections"] - 1
    linked = sum(len(s["chunk_ids"]) for s in graph.toc(book_id))
    front = sum(1 for c in reads.chunks(index(), book_id) if c["section_id"] is None)
    assert linked + front == counts["chunks"]
    assert latest_metadata("book_bundle", book_id)["chunks_over_model_limit"] == 0


def test_pdf_chunks_carry_their_pages(ingested) -> None:
    chunks = reads.chunks(index(), "h-g-wells_the-time-machine.pdf")
    assert all(c["page_start"] and c["page_end"] >= c["page_start"] for c in chunks)
    assert max(c["page_end"] for c in chunks) == 53


def test_rematerializing_reuses_every_vector_and_the_stored_bundle(ingested) -> None:
    book_id = "sun-tzu_the-art-of-war.md"
    before_counts = index_counts(book_id)
    before_chunks = reads.chunks(index(), book_id)
    _, before_vectors = book_vectors(book_id)
    before = latest_metadata("book_bundle", book_id)["fingerprint"]
    [outcome] = materialize_books([book_id])
    assert outcome["success"], outcome["errors"]
    assert index_counts(book_id) == before_counts
    assert reads.chunks(index(), book_id) == before_chunks
    assert np.array_equal(book_vectors(book_id)[1], before_vectors)
    bundle = latest_metadata("book_bundle", book_id)
    assert bundle["texts_embedded"] == 0
    assert bundle["chunks_reused_from_previous_bundle"] == before_counts["chunks"]
    assert bundle["fingerprint"] == before and bundle["reused_existing_bundle"]
    assert orphan_vectors() == 0


def test_replacing_a_book_replaces_its_rows_and_vectors(
    ingested, object_store: ObjectStoreResource
) -> None:
    book_id = "lewis-carroll_alices-adventures-in-wonderland.txt"
    original = (shared_dir() / "corpus" / book_id).read_bytes()
    shorter = original[: len(original) // 3]
    object_store.put_bytes(object_store.books_bucket, book_id, shorter, "text/plain")
    try:
        [outcome] = materialize_books([book_id])
        assert outcome["success"], outcome["errors"]
        counts = index_counts(book_id)
        assert counts["chunks"] == counts["vectors"] == counts["fts"]
        assert counts["chunks"] < ingested_chunk_total(book_id, original)
        assert orphan_vectors() == 0
        # The book's last paragraph was cut off: nothing of it may still be found.
        assert book_id not in lexical_book_ids("riper years loving heart", 50)
        # Text that stayed took its vectors from the previous bundle instead of the model.
        changed = latest_metadata("book_bundle", book_id)
        assert changed["chunks_reused_from_previous_bundle"] > changed["texts_embedded"]
    finally:
        object_store.put_bytes(object_store.books_bucket, book_id, original, "text/plain")
        assert materialize_books([book_id])[0]["success"]


def ingested_chunk_total(book_id: str, data: bytes) -> int:
    from hbi.bundle.build import prepare_book

    prepared = prepare_book(
        data, book_id=book_id, object_key=book_id, etag=None, tokenizer=EmbedderResource().model()
    )
    return len(prepared.rows.chunks)


def test_the_index_holds_exactly_the_rows_of_the_bundle(ingested, object_store) -> None:
    book_id = "nist-ir-8202_blockchain-technology-overview.pdf"
    pointer = json.loads(
        object_store.get_bytes(object_store.backups_bucket, f"books/{book_id}/LATEST.json")
    )
    with tempfile.TemporaryDirectory() as tmp:
        for obj in object_store.list_objects(object_store.backups_bucket, pointer["prefix"]):
            name = obj.object_name.rsplit("/", 1)[-1]
            object_store.get_file(object_store.backups_bucket, obj.object_name, f"{tmp}/{name}")
        bundle = read_bundle(Path(tmp))
    assert bundle.chunks == reads.chunks(index(), book_id)
    assert bundle.sections == reads.sections(index(), book_id)
    ids, vectors = book_vectors(book_id)
    assert bundle.chunk_ids == ids and np.array_equal(bundle.vectors, vectors)
    sentences = sentence_vectors(book_id)
    assert sentences and bundle.sentence_vectors.keys() == sentences.keys()
    assert all(np.array_equal(bundle.sentence_vectors[c], v) for c, v in sentences.items())
    assert bundle.model_id == EmbedderResource().model().model_id
    assert bundle.book["content_hash"] == reads.book(index(), book_id)["content_hash"]


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/container.xml", "<container/>")
        archive.writestr("OEBPS/bomb.xhtml", b"\0" * (300 << 20))
    return buffer.getvalue()


HOSTILE = {
    "truncated.pdf": (
        lambda: (shared_dir() / "corpus" / "h-g-wells_the-time-machine.pdf").read_bytes()[:60_000],
        "corrupt",
    ),
    "empty.txt": (lambda: b"", "empty"),
    "one-byte.md": (lambda: b"#", "empty"),
    "bomb.epub": (_zip_bomb, "size limit"),
    "garbage.pdf": (lambda: b"%PDF-1.7\n" + bytes(range(256)) * 50, "corrupt"),
    "archive.epub": (lambda: _plain_zip(), "unsupported format"),
    "locked.pdf": (lambda: build_pdf(ONE_PAGE, encrypt=("secret", "owner")), "encrypted"),
    "escape.epub": (lambda: _traversal_epub(), "corrupt"),
}


ONE_PAGE = [body_lines(700, ["Chapter One", "Some words on the only page."])]


def _traversal_epub() -> bytes:
    entries = epub_entries(chapter1_href="../../evil.xhtml")
    entries["../evil.xhtml"] = b"<html><body><p>evil</p></body></html>"
    return build_zip(entries)


def _plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "not a book")
    return buffer.getvalue()


def test_hostile_books_fail_their_partition_and_leave_others_untouched(
    ingested, object_store: ObjectStoreResource, tmp_path: Path
) -> None:
    others = {p.name: index_counts(p.name) for p in corpus_books()}
    for name, (make, _) in HOSTILE.items():
        (tmp_path / name).write_bytes(make())
    added = add_books(tuple(tmp_path / name for name in HOSTILE))
    outcomes = {o["book_id"]: o for o in materialize_books([a["book_id"] for a in added])}
    for name, (_, problem) in HOSTILE.items():
        outcome = outcomes[name]
        assert not outcome["success"], name
        message = " ".join(outcome["errors"])
        assert name in message and problem in message, message
        assert reads.book(index(), name) is None
    assert {p.name: index_counts(p.name) for p in corpus_books()} == others
    with dg.DagsterInstance.get() as instance:
        run = instance.get_run_by_id(outcomes["truncated.pdf"]["run_id"])
        assert run.status == dg.DagsterRunStatus.FAILURE


def test_wrong_extension_is_read_by_content(ingested, tmp_path: Path) -> None:
    disguised = tmp_path / "time-machine-really-a-pdf.epub"
    disguised.write_bytes((shared_dir() / "corpus" / "h-g-wells_the-time-machine.pdf").read_bytes())
    [added] = add_books((disguised,))
    [outcome] = materialize_books([added["book_id"]])
    assert outcome["success"], outcome["errors"]
    assert reads.book(index(), added["book_id"])["format"] == "pdf"


def test_books_and_add_commands_print_json(
    ingested, object_store: ObjectStoreResource, tmp_path: Path
) -> None:
    runner = CliRunner()
    listed = json.loads(runner.invoke(cli, ["books", "--json"]).output)
    row = next(b for b in listed if b["book_id"] == "sun-tzu_the-art-of-war.md")
    assert set(row) == {
        "book_id",
        "title",
        "authors",
        "format",
        "language",
        "pages",
        "ocr",
        "chunks",
        "toc_entries",
        "status",
    }
    assert row["status"] == "ready" and row["toc_entries"] == 16
    assert row["language"] == "en" and row["ocr"] is None
    copy = tmp_path / "Art of War (copy).md"
    copy.write_bytes((shared_dir() / "corpus" / "sun-tzu_the-art-of-war.md").read_bytes())
    result = runner.invoke(cli, ["add", str(copy), "--json"])
    assert result.exit_code == 0, result.output
    [item] = json.loads(result.output)
    # Added, not ingested: the next sync would index the copy, so it leaves the bucket again.
    object_store.delete_prefix(object_store.books_bucket, item["object_key"])
    with dg.DagsterInstance.get() as instance:
        instance.delete_dynamic_partition("books", item["book_id"])
    assert item["object_key"] == copy.name and item["etag"]
    assert item["book_id"].startswith("art-of-war-copy-.md-")


def test_search_finds_a_distinctive_sentence(ingested) -> None:
    result = CliRunner().invoke(cli, ["search", "Down the Rabbit-Hole", "--json"])
    payload = json.loads(result.output)
    top = payload["hits"][0]
    assert top["book_id"] == "lewis-carroll_alices-adventures-in-wonderland.txt"
    assert top["section_path"][-1].startswith("CHAPTER I.")


def test_embed_command_gives_the_index_vectors(stack) -> None:
    result = CliRunner().invoke(cli, ["embed", "--json"], input="a ship at sea\nthe rabbit hole\n")
    payload = json.loads(result.output)
    vectors = np.array(payload["embeddings"], dtype=np.float32)
    expected = EmbedderResource().model().embed(["a ship at sea", "the rabbit hole"])
    assert payload["dim"] == 384 and np.allclose(vectors, expected, atol=1e-6)
