"""The reader's routes against the session's real stack and the ingested corpus: a hit opened at
its PDF page with the sentence marked, or at its section in the other formats."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest
from fastapi.testclient import TestClient

from hbi.api import create_app
from hbi.index import reads
from hbi.index.db import connect, default_index_path
from hbi.index.writer import apply_books
from tests.reader.paged_book import paged_bundle
from tests.small_books import projected

pytestmark = pytest.mark.integration

TIME_MACHINE = "h-g-wells_the-time-machine.pdf"
# On physical page 11, over two lines of the PDF.
TIME_MACHINE_SENTENCE = (
    "The twinkling succession of darkness and light was excessively painful to the eye."
)
TIME_MACHINE_PAGE = 11
ALICE = "lewis-carroll_alices-adventures-in-wonderland.txt"
ALICE_SENTENCE = "Either the well was very deep, or she fell very slowly"
WAR = "sun-tzu_the-art-of-war.md"
WAR_SENTENCE = "If your opponent is of choleric temper, seek to irritate him."
PRIDE = "jane-austen_pride-and-prejudice.epub"
PRIDE_SENTENCE = (
    "It is a truth universally acknowledged, that a single man in possession of a good "
    "fortune, must be in want of a wife."
)


@pytest.fixture(scope="module")
def client(ingested) -> TestClient:
    return TestClient(create_app(api_key=""))


@pytest.fixture(scope="module")
def index(ingested) -> Iterator[apsw.Connection]:
    connection = connect(default_index_path(), readonly=True)
    yield connection
    connection.close()


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def top_hit(client: TestClient, sentence: str, book_id: str) -> dict:
    hits = client.get("/search", params={"q": sentence, "mode": "lexical"}).json()["hits"]
    assert hits[0]["book_id"] == book_id
    return hits[0]


def marked_words(page: dict) -> list[str]:
    return words(" ".join(s["text"] for line in page["lines"] for s in line["spans"] if s["mark"]))


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])


def test_a_pdf_hit_opens_at_its_page_with_the_sentence_marked(client: TestClient) -> None:
    hit = top_hit(client, TIME_MACHINE_SENTENCE, TIME_MACHINE)
    assert hit["page_start"] <= TIME_MACHINE_PAGE <= hit["page_end"]
    response = client.get(
        f"/books/{TIME_MACHINE}/pages/{TIME_MACHINE_PAGE}", params={"chunk": hit["chunk_id"]}
    )
    assert response.status_code == 200
    page = response.json()
    marked = marked_words(page)
    assert " ".join(words(TIME_MACHINE_SENTENCE)) in " ".join(marked)
    # Little else: every marked word is the passage's, and no more of them than it has.
    passage = words(client.get(f"/chunks/{hit['chunk_id']}").json()["text"])
    assert set(marked) <= set(passage) and len(marked) <= len(passage) + 2
    assert {"chunk_id": hit["chunk_id"], "section_id": hit["section_id"]} in page["chunks"]
    assert page["breadcrumb"] == hit["section_path"]
    assert page["section_id"] == hit["section_id"]


def test_a_pdf_page_has_its_place_size_and_lines_as_fractions(client: TestClient) -> None:
    page = client.get(f"/books/{TIME_MACHINE}/pages/{TIME_MACHINE_PAGE}").json()
    assert page["book_id"] == TIME_MACHINE and page["format"] == "pdf"
    assert page["page"] == TIME_MACHINE_PAGE
    assert (page["prev"], page["next"]) == (TIME_MACHINE_PAGE - 1, TIME_MACHINE_PAGE + 1)
    assert page["width"] > 500 and page["height"] > 800  # A4 in points
    assert not any(s["mark"] for line in page["lines"] for s in line["spans"])
    assert len(page["lines"]) > 30
    for line in page["lines"]:
        assert 0 <= line["x"] < 1 and 0 <= line["y"] < 1
        assert 0 < line["w"] <= 1 - line["x"] + 1e-6 and 0 < line["h"] < 0.1
    tops = [line["y"] for line in page["lines"]]
    assert tops == sorted(tops)  # one column of prose, read top to bottom


def test_the_first_and_last_pages_have_no_page_before_or_after(client: TestClient) -> None:
    first = client.get(f"/books/{TIME_MACHINE}/pages/1").json()
    count = first["page_count"]
    last = client.get(f"/books/{TIME_MACHINE}/pages/{count}").json()
    assert first["prev"] is None and first["next"] == 2
    assert last["next"] is None and last["prev"] == count - 1


def test_a_page_image_is_a_png_of_the_clamped_width(client: TestClient) -> None:
    url = f"/books/{TIME_MACHINE}/pages/{TIME_MACHINE_PAGE}/image"
    response = client.get(url, params={"width": 400})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    width, height = png_size(response.content)
    assert width == 400 and 560 < height < 570  # A4's proportions
    assert png_size(client.get(url, params={"width": 5000}).content)[0] == 2000
    assert png_size(client.get(url, params={"width": 10}).content)[0] == 200
    assert png_size(client.get(url).content)[0] == 1000


@pytest.mark.parametrize(
    ("book_id", "sentence"),
    [(ALICE, ALICE_SENTENCE), (WAR, WAR_SENTENCE), (PRIDE, PRIDE_SENTENCE)],
)
def test_a_hit_in_another_format_opens_at_its_section_with_the_passage_marked(
    client: TestClient, book_id: str, sentence: str
) -> None:
    hit = top_hit(client, sentence, book_id)
    response = client.get(f"/books/{book_id}/passage", params={"chunk": hit["chunk_id"]})
    assert response.status_code == 200
    passage = response.json()
    assert passage["section_id"] == hit["section_id"]
    assert passage["breadcrumb"] == hit["section_path"]
    assert passage["section_title"] == hit["section_path"][-1]
    [marked] = [c for c in passage["chunks"] if c["mark"]]
    assert marked["chunk_id"] == hit["chunk_id"]
    assert " ".join(words(sentence)) in " ".join(words(marked["text"]))
    same = client.get(
        f"/books/{book_id}/passage",
        params={"section": hit["section_id"], "chunk": hit["chunk_id"]},
    ).json()
    assert same == passage


def test_a_section_shows_its_text_once_though_its_chunks_overlap(
    client: TestClient, index: apsw.Connection
) -> None:
    hit = top_hit(client, ALICE_SENTENCE, ALICE)
    passage = client.get(f"/books/{ALICE}/passage", params={"section": hit["section_id"]}).json()
    chunks = reads.section_chunks(index, ALICE, hit["section_id"])
    whole = chunks[0]["text"]
    for previous, chunk in zip(chunks, chunks[1:], strict=False):
        whole += chunk["text"][previous["char_end"] - chunk["char_start"] :]
    assert "".join(c["text"] for c in passage["chunks"]) == whole
    assert not any(c["mark"] for c in passage["chunks"])


def test_sections_link_to_the_previous_and_next_that_hold_text(client: TestClient) -> None:
    hit = top_hit(client, ALICE_SENTENCE, ALICE)
    here = client.get(f"/books/{ALICE}/passage", params={"section": hit["section_id"]}).json()
    after = client.get(
        f"/books/{ALICE}/passage", params={"section": here["next"]["section_id"]}
    ).json()
    assert here["next"]["title"] == after["section_title"]
    assert after["prev"] == {"section_id": here["section_id"], "title": here["section_title"]}
    assert after["chunks"]


def test_a_book_opens_at_its_first_section_without_parameters(
    client: TestClient, index: apsw.Connection
) -> None:
    passage = client.get(f"/books/{WAR}/passage").json()
    assert passage["prev"] is None and passage["chunks"]
    first = reads.chunks(index, WAR)[0]
    assert passage["chunks"][0]["chunk_id"] == first["chunk_id"]


def test_a_chunk_comes_with_its_neighbours(client: TestClient, index: apsw.Connection) -> None:
    hit = top_hit(client, ALICE_SENTENCE, ALICE)
    response = client.get(f"/chunks/{hit['chunk_id']}", params={"around": 2})
    assert response.status_code == 200
    chunk = response.json()
    assert chunk["book_id"] == ALICE and chunk["section_path"] == hit["section_path"]
    assert ALICE_SENTENCE in chunk["text"]
    ids = [c["chunk_id"] for c in reads.chunks(index, ALICE)]
    at = ids.index(hit["chunk_id"])
    assert [c["chunk_id"] for c in chunk["before"]] == ids[at - 2 : at]
    assert [c["chunk_id"] for c in chunk["after"]] == ids[at + 1 : at + 3]
    assert client.get(f"/chunks/{hit['chunk_id']}", params={"around": 6}).status_code == 422


def test_back_of_book_terms_page_with_a_total(
    ingested, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No corpus book has a back-of-book index its extractor finds: an index of a small one.
    path = tmp_path / "index.sqlite"
    apply_books(connect(path), [projected(paged_bundle("paged"))])
    monkeypatch.setenv("HBI_INDEX_PATH", str(path))
    client = TestClient(create_app(api_key=""))
    response = client.get("/books/paged/terms", params={"limit": 2, "offset": 1})
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "4"
    assert [(t["parents"], t["term"]) for t in response.json()] == [
        ([], "apple"),
        (["apple"], "core"),
    ]
    apple = response.json()[0]
    assert apple["pages"] == ["2"] and [s["title"] for s in apple["sections"]] == ["Chapter 1"]
    assert set(apple) == {"term", "parents", "pages", "section_ids", "sections"}
    found = client.get("/books/paged/terms", params={"prefix": "Ap"})
    assert [t["term"] for t in found.json()] == ["apple"] and found.headers["X-Total-Count"] == "1"


def test_a_book_without_a_back_of_book_index_has_no_terms(client: TestClient) -> None:
    response = client.get(f"/books/{ALICE}/terms")
    assert response.json() == [] and response.headers["X-Total-Count"] == "0"


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/books/nobody.pdf/pages/1", 404),
        (f"/books/{TIME_MACHINE}/pages/100000", 404),
        (f"/books/{TIME_MACHINE}/pages/0", 422),
        (f"/books/{TIME_MACHINE}/pages/1?chunk=12345", 404),
        (f"/books/{ALICE}/pages/1", 400),
        (f"/books/{ALICE}/pages/1/image", 400),
        ("/books/nobody.pdf/pages/1/image", 404),
        ("/books/nobody.txt/passage", 404),
        (f"/books/{ALICE}/passage?section=nowhere", 404),
        (f"/books/{ALICE}/passage?chunk=12345", 404),
        ("/chunks/12345", 404),
        ("/chunks/99999999999999999999", 422),
        ("/books/nobody.txt/terms", 404),
    ],
)
def test_unknown_things_are_404_and_pages_of_other_formats_400(
    client: TestClient, url: str, status: int
) -> None:
    response = client.get(url)
    assert response.status_code == status
    assert response.json()["detail"]


def test_a_passage_of_another_book_is_not_found(client: TestClient) -> None:
    hit = top_hit(client, ALICE_SENTENCE, ALICE)
    for url in (f"/books/{WAR}/passage", f"/books/{TIME_MACHINE}/pages/1"):
        assert client.get(url, params={"chunk": hit["chunk_id"]}).status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        f"/books/{TIME_MACHINE}/pages/1",
        f"/books/{TIME_MACHINE}/pages/1/image",
        f"/books/{ALICE}/passage",
        "/chunks/1",
        f"/books/{ALICE}/terms",
        "/library",
    ],
)
def test_every_reader_route_needs_the_api_key(ingested, url: str) -> None:
    keyed = TestClient(create_app(api_key="k"))
    assert keyed.get(url).status_code == 401
    assert keyed.get(url, headers={"X-API-Key": "wrong"}).status_code == 401
    assert keyed.get(url, headers={"X-API-Key": "k"}).status_code != 401
