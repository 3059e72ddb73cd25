"""Words match across accents, case and compatibility forms in every script, both ways."""

from __future__ import annotations

from pathlib import Path

import pytest

from hbi.index.db import WORDS_TABLE, connect
from hbi.index.folding import fold
from hbi.index.writer import apply_books
from hbi.search import LibrarySearch
from hbi.search.tokens import Fts5Tokens
from tests.small_books import book_rows, projected, small_bundle

# Public-domain lines: Homer (Iliad 1.1), John 1.1 (Koine), Pushkin, Goethe, Zola.
PARAGRAPHS = [
    "Μῆνιν ἄειδε θεὰ Πηληϊάδεω Ἀχιλῆος οὐλομένην.",
    "Ἐν ἀρχῇ ἦν ὁ λόγος, καὶ ὁ λόγος ἦν πρὸς τὸν θεόν.",
    "Я помню чудное мгновенье: передо мной явилась ты. Зелёная ёлка.",
    "Über allen Gipfeln ist Ruh, in allen Wipfeln spürest du kaum einen Hauch. Straße.",
    "Étienne Lantier descendit à Montsou. Une ﬁne pluie tombait.",
]


@pytest.fixture(scope="module")
def search(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("fold") / "index.sqlite"
    connection = connect(path)
    apply_books(connection, [projected(small_bundle(book_rows(PARAGRAPHS)))])
    connection.close()
    engine = LibrarySearch(str(path), embed=None)
    yield engine
    engine.close()


@pytest.mark.parametrize(
    ("query", "part"),
    [
        ("achilles αχιληος", 0),
        ("ΑΧΙΛΗΟΣ", 0),
        ("Ἀχιλῆος", 0),
        ("λογος", 1),
        ("ΛΟΓΟΣ", 1),
        ("αρχη", 1),
        ("елка", 2),
        ("ЗЕЛЁНАЯ", 2),
        ("uber gipfeln", 3),
        ("strasse", 3),
        ("etienne lantier", 4),
        ("fine pluie", 4),
    ],
)
def test_words_match_across_accents_case_and_forms(search, query: str, part: int) -> None:
    hits = search.search(query, mode="lexical").hits
    assert hits and hits[0].section_path[-1] == f"Part {part}", (query, hits)


def test_fold() -> None:
    assert fold("Ἀχιλῆος") == "αχιληοσ"
    assert fold("ﬁne") == "fine"
    assert fold("Straße") == "strasse"
    assert fold("ёлка") == "елка"


def test_ascii_text_tokenizes_as_plain_unicode61_with_porter() -> None:
    text = "The Time Traveller (for so it will be convenient to speak of him) was expounding"
    assert Fts5Tokens().tokens(text) == [
        "the", "time", "travel", "for", "so", "it", "will", "be", "conveni", "to", "speak",
        "of", "him", "wa", "expound",
    ]  # fmt: skip


def test_an_index_made_with_plain_unicode61_is_refolded_on_first_writable_open(
    tmp_path: Path,
) -> None:
    path = tmp_path / "index.sqlite"
    connection = connect(path)
    apply_books(connection, [projected(small_bundle(book_rows(PARAGRAPHS)))])
    # As the previous release made it.
    connection.execute("DROP TABLE chunks_fts")
    connection.execute(WORDS_TABLE.replace("porter hbi_fold", "porter unicode61"))
    connection.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")
    connection.close()
    connection = connect(path)
    sql = connection.execute("SELECT sql FROM sqlite_master WHERE name = 'chunks_fts'").fetchone()
    assert "hbi_fold" in sql[0]
    found = connection.execute("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH 'λογος'")
    assert len(found.fetchall()) == 1
    connection.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
    connection.close()
