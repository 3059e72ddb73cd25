"""HBI's SQLite binding loads sqlite-vec and has FTS5, on any machine the wheels cover."""

from __future__ import annotations

from pathlib import Path

from hbi.index.db import connect, versions
from hbi.index.writer import apply_books
from tests.small_books import book_rows, projected, small_bundle


def test_vec_version_answers(tmp_path) -> None:
    connection = connect(tmp_path / "index.sqlite")
    found = versions(connection)
    assert found["sqlite_vec"].startswith("v0.1")
    assert tuple(int(p) for p in found["sqlite"].split(".")[:2]) >= (3, 45)


def test_fts5_and_vec0_tables_work(tmp_path) -> None:
    connection = connect(tmp_path / "index.sqlite")
    connection.execute("CREATE VIRTUAL TABLE t USING fts5(body)")
    connection.execute("INSERT INTO t(body) VALUES ('the time machine')")
    assert connection.execute("SELECT count(*) FROM t WHERE t MATCH 'machine'").fetchone()[0] == 1
    connection.execute(
        "CREATE VIRTUAL TABLE v USING vec0(embedding float[2] distance_metric=cosine)"
    )
    connection.execute("INSERT INTO v(rowid, embedding) VALUES (1, '[1, 0]'), (2, '[0, 1]')")
    nearest = connection.execute(
        "SELECT rowid FROM v WHERE embedding MATCH '[0.9, 0.1]' AND k = 1"
    ).fetchone()[0]
    assert nearest == 1


def test_index_uses_wal(tmp_path) -> None:
    connection = connect(tmp_path / "index.sqlite")
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_index_without_the_new_book_columns_gets_them(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    connection = connect(path)
    apply_books(connection, [projected(small_bundle(book_rows(["Some text.", "More text."])))])
    for column in ("language_source", "ocr_pages", "ocr_confidence"):
        connection.execute(f"ALTER TABLE books DROP COLUMN {column}")
    connection.close()
    connection = connect(path)
    row = connection.execute("SELECT ocr_pages, ocr_confidence FROM books").fetchone()
    assert row == ("[]", None)
    connection.close()
