"""A book's language: its metadata's when it names one, else detected from its text."""

from __future__ import annotations

import pytest

from hbi.books.book import BookMetadata
from hbi.extract import extract_book
from hbi.extract.language import detect_language, primary_subtag, with_language
from tests.conftest import shared_dir

# Opening lines of public-domain texts (Perrault 1697, Tolstoy 1869, Li Bai, Homer, Cervantes).
SAMPLES = {
    "fr": "Il était une fois une petite fille de village, la plus jolie qu'on eût su voir ; "
    "sa mère en était folle, et sa mère-grand plus folle encore.",
    "ru": "Все счастливые семьи похожи друг на друга, каждая несчастливая семья несчастлива "
    "по-своему. Всё смешалось в доме Облонских.",
    "zh": "床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。白日依山盡，黃河入海流。"
    "欲窮千里目，更上一層樓。",
    "es": "En un lugar de la Mancha, de cuyo nombre no quiero acordarme, no ha mucho tiempo "
    "que vivía un hidalgo de los de lanza en astillero.",
}


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_the_language_of_a_text_is_detected(language: str) -> None:
    assert detect_language(SAMPLES[language]) == language


def test_text_without_words_has_no_language() -> None:
    assert detect_language("1234 5678 — 42") is None
    assert detect_language("") is None


def test_metadata_wins_over_the_text() -> None:
    given = with_language(BookMetadata(language="en-GB"), SAMPLES["fr"])
    assert (given.language, given.language_source) == ("en-GB", "metadata")
    for unknown in ("und", "", "French", "unknown"):
        found = with_language(BookMetadata(language=unknown), SAMPLES["fr"])
        assert (found.language, found.language_source) == ("fr", "detected"), unknown


def test_the_body_decides_not_an_english_licence_at_the_front() -> None:
    licence = "This eBook is for the use of anyone anywhere at no cost. " * 60
    body = (SAMPLES["fr"] + " ") * 80
    assert detect_language(licence + body) == "fr"


def test_primary_subtag() -> None:
    assert primary_subtag("en-US") == "en"
    assert primary_subtag("ZH_hant") == "zh"
    assert primary_subtag(None) is None


def test_extracted_books_carry_their_language() -> None:
    corpus = shared_dir() / "corpus"
    epub = extract_book((corpus / "jane-austen_pride-and-prejudice.epub").read_bytes(), "p.epub")
    assert epub.metadata.language_source == "metadata"
    assert primary_subtag(epub.metadata.language) == "en"
    text = extract_book(
        (corpus / "lewis-carroll_alices-adventures-in-wonderland.txt").read_bytes(), "alice.txt"
    )
    assert (text.metadata.language, text.metadata.language_source) == ("en", "detected")
    french = extract_book(("\n\n".join([SAMPLES["fr"]] * 5)).encode(), "conte.txt")
    assert (french.metadata.language, french.metadata.language_source) == ("fr", "detected")
