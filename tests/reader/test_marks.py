"""Finding a passage among a PDF page's lines: what is marked, and what is not."""

from __future__ import annotations

from hbi.reader.marks import mark_lines

PAGE = [
    "THE TIME MACHINE",
    "and every minute marking a day. I supposed the laboratory had been destroyed",
    "and I had come into the open air. The twinkling succes-",
    "sion of darkness and light was excessively painful to the eye.",
    "Then, in the intermittent darknesses, I saw the moon.",
    "12",
]


def marked_text(spans: list[list[tuple[str, bool]]]) -> str:
    return " ".join(text for line in spans for text, mark in line if mark)


def test_a_passage_within_the_page_is_marked_from_its_first_to_its_last_word() -> None:
    passage = "The twinkling succession of darkness and light was excessively painful to the eye."
    spans = mark_lines(PAGE, passage)
    assert marked_text(spans) == (
        "The twinkling succes- sion of darkness and light was excessively painful to the eye."
    )
    assert spans[2] == [
        ("and I had come into the open air. ", False),
        ("The twinkling succes-", True),
    ]
    assert spans[4] == [(PAGE[4], False)]


def test_a_passage_begun_on_the_page_before_is_marked_from_the_top_of_the_body() -> None:
    passage = (
        "The hours went by, the machine ran on, and every minute marking a day. "
        "I supposed the laboratory had been destroyed and I had come into the open air."
    )
    spans = mark_lines(PAGE, passage)
    assert spans[0] == [(PAGE[0], False)]  # the running header shares words, not the run
    assert marked_text(spans) == PAGE[1] + " and I had come into the open air."


def test_a_passage_going_on_to_the_next_page_is_marked_to_the_end_of_the_body() -> None:
    passage = "Then, in the intermittent darknesses, I saw the moon. Spinning swiftly on."
    spans = mark_lines(PAGE, passage)
    assert marked_text(spans) == PAGE[4]
    assert spans[5] == [("12", False)]


def test_case_and_whitespace_do_not_matter() -> None:
    spans = mark_lines(PAGE, "THEN,   in the\nintermittent DARKNESSES")
    assert marked_text(spans) == "Then, in the intermittent darknesses,"


def test_a_passage_not_on_the_page_marks_nothing() -> None:
    spans = mark_lines(PAGE, "Alice was beginning to get very tired of sitting by her sister.")
    assert not marked_text(spans)
    assert [line for line in spans] == [[(line, False)] for line in PAGE]


def test_no_passage_marks_nothing() -> None:
    assert mark_lines(PAGE, "") == [[(line, False)] for line in PAGE]
