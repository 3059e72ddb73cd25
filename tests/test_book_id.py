"""The object-key → book-id rule is stable, readable for clean names and collision-free."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hbi.books.ids import book_id_for_key, is_book_key


def test_clean_key_is_its_own_id() -> None:
    assert book_id_for_key("h-g-wells_the-time-machine.pdf") == "h-g-wells_the-time-machine.pdf"


def test_unclean_keys_get_a_slug_and_hash() -> None:
    book_id = book_id_for_key("My Books/Émile Zola.PDF")
    assert book_id.startswith("my-books-emile-zola.pdf-")
    assert len(book_id.rsplit("-", 1)[1]) == 10


def test_keys_that_slug_alike_do_not_collide() -> None:
    keys = ["a b.pdf", "a-b.pdf", "A B.pdf", "a  b.pdf", "a/b.pdf", "../a b.pdf"]
    assert len({book_id_for_key(k) for k in keys}) == len(keys)


def test_very_long_key_gives_bounded_id() -> None:
    assert len(book_id_for_key("x" * 2000 + ".pdf")) <= 91


@given(st.text(min_size=1, max_size=300))
def test_any_key_gives_a_safe_stable_id(key: str) -> None:
    book_id = book_id_for_key(key)
    assert book_id == book_id_for_key(key)
    assert book_id and len(book_id) <= 100
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in book_id)
    assert ".." not in book_id and "/" not in book_id


def test_book_suffixes() -> None:
    assert is_book_key("a/b/Book.EPUB")
    assert not is_book_key("notes.docx")
    assert not is_book_key("folder/")


def test_documentation_files_are_not_books() -> None:
    assert not is_book_key("corpus/MANIFEST.md")
    assert not is_book_key("README.txt")
    assert not is_book_key(".hidden.pdf")
    assert is_book_key("the-readme-of-war.md")
