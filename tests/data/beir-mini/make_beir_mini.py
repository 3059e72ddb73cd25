"""Build beir-mini, a small BEIR-layout dataset cut from the shared corpus, with judged queries.

Run from the repository root: .venv/bin/python tests/data/beir-mini/make_beir_mini.py
It rewrites corpus.jsonl, queries.jsonl and qrels/test.tsv next to this file.

Documents are passages of four corpus books, as HBI extracts them: entries of The Devil's
Dictionary (title: the headword), paragraphs of The Art of War and of Alice's Adventures in
Wonderland (title: the chapter), and paragraphs of NIST SP 800-88 (title: the section).
Queries are written by hand, each about one document (qrels score 1): most paraphrase it in
other words (semantic search should find them), some use its distinctive words (lexical
search should), so neither list alone is enough.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from hbi.extract import extract_book

HERE = Path(__file__).resolve().parent
CORPUS = Path(os.environ.get("HBI_SHARED_DIR", HERE.parents[3] / "shared")) / "corpus"
HEADWORD = re.compile(r"[A-Z][\w’'\-]*( [\w’'\-]+){0,2}")

# (query, document id). Document ids: dd-<headword>, war-<chapter>-<paragraph>,
# alice-<chapter>-<paragraph>, nist-<section>-<paragraph> (numbers as printed by --list).
QUERIES = [
    # The Devil's Dictionary, paraphrased.
    ("pleasure felt when thinking about someone else's suffering", "dd-happiness"),
    ("a port where ships hide from storms but meet customs officers", "dd-harbor"),
    ("a sickness you catch when a friend becomes rich", "dd-distress"),
    ("head of a country that chose tyranny over chaos", "dd-dictator"),
    ("talking where everyone shows off and nobody listens", "dd-conversation"),
    ("a meat eater who devours timid vegetarians", "dd-carnivorous"),
    ("wind instrument so bad that two of them are worse", "dd-clarinet"),
    ("tracing your family back to an ancestor who would rather not be traced", "dd-genealogy"),
    ("a revolution that failed", "dd-insurrection"),
    ("wish to be reviled by foes while alive and mocked by friends when dead", "dd-ambition"),
    ("a politician who shakes his neighbours' trees to get rid of worms", "dd-agitator"),
    ("blood of the gods", "dd-ichor"),
    ("persuading fools that white is white", "dd-eloquence"),
    ("changing political sides like Saul of Tarsus", "dd-flop"),
    ("small axe the Indians call Thomashawk", "dd-hatchet"),
    ("the hour when sensible people go to sleep", "dd-dawn"),
    ("breakfast of an American back from Paris", "dd-dejeuner"),
    ("snake named for adding funeral costs", "dd-adder"),
    # The Art of War.
    ("pretend you cannot attack when you can, seem far away when near", "war-1-19"),
    ("a country never benefits from a long drawn-out war", "war-2-2"),
    ("breaking the enemy's resistance without fighting is the highest excellence", "war-3-2"),
    ("know the enemy and know yourself and fear no hundred battles", "war-3-16"),
    ("gather troops from great distances when you know where and when the battle is", "war-6-11"),
    ("tactics should be like water running away from high places", "war-6-20"),
    ("attack only the places the enemy has left undefended", "war-6-4"),
    # Alice's Adventures in Wonderland.
    ("old Father William keeps standing on his head", "alice-5-27"),
    ("the Caterpillar takes the hookah out of its mouth and speaks to her", "alice-5-1"),
    ("tea under a tree with the March Hare, the Hatter and a sleeping Dormouse", "alice-7-1"),
    ("falling slowly down a deep well looking at cupboards and shelves", "alice-1-6"),
    ("a little bottle with a paper label saying DRINK ME", "alice-1-15"),
    # NIST SP 800-88.
    ("who makes sure maintenance contracts protect the confidentiality of media", "nist-3.3-1"),
    ("degausser strength matched to the coercivity of magnetic media", "nist-5-10"),
    ("purge: physical or logical ways to make recovering target data infeasible", "nist-2.5-10"),
    ("paper shredders for flexible media such as diskettes", "nist-5-16"),
    ("disintegrate pulverize melt incinerate", "nist-5-15"),
]


def _book(name: str):
    return extract_book((CORPUS / name).read_bytes(), name)


def dictionary_entries() -> dict[str, tuple[str, str]]:
    """Return The Devil's Dictionary's entries as dd-<headword> -> (headword, definition)."""
    book = _book("ambrose-bierce_the-devils-dictionary.epub")
    paragraphs = [p.strip() for p in book.text.split("\n\n") if p.strip()]
    entries: dict[str, tuple[str, str]] = {}
    i = 0
    while i < len(paragraphs):
        head = paragraphs[i]
        if HEADWORD.fullmatch(head) and len(head) < 30:
            body = []
            j = i + 1
            while j < len(paragraphs) and not (
                HEADWORD.fullmatch(paragraphs[j]) and len(paragraphs[j]) < 30
            ):
                body.append(paragraphs[j])
                j += 1
            text = "\n\n".join(body)
            if 20 <= len(text) <= 1500:
                key = "dd-" + re.sub(r"[^a-z0-9]+", "-", head.lower()).strip("-")
                entries.setdefault(key, (head, text))
            i = j
        else:
            i += 1
    return entries


def section_paragraphs(name: str, prefix: str, numbering) -> dict[str, tuple[str, str]]:
    """Return a book's paragraphs as <prefix>-<section>-<n> -> (section title, paragraph)."""
    book = _book(name)
    toc = sorted(book.toc, key=lambda e: e.offset)
    found: dict[str, tuple[str, str]] = {}
    for index, entry in enumerate(toc):
        label = numbering(entry.title)
        if label is None:
            continue
        end = toc[index + 1].offset if index + 1 < len(toc) else len(book.text)
        paragraphs = [p.strip() for p in book.text[entry.offset : end].split("\n\n")]
        for n, paragraph in enumerate(paragraphs):
            if len(paragraph) >= 80:
                found[f"{prefix}-{label}-{n}"] = (entry.title.strip(), " ".join(paragraph.split()))
    return found


def _roman(title: str) -> str | None:
    values = {"I": 1, "V": 5, "X": 10, "L": 50}
    match = re.match(r"(?:CHAPTER )?([IVXL]+)\.", title.strip())
    if not match:
        return None
    total = 0
    digits = [values[c] for c in match.group(1)]
    for i, value in enumerate(digits):
        total += -value if i + 1 < len(digits) and digits[i + 1] > value else value
    return str(total)


def _nist(title: str) -> str | None:
    match = re.match(r"(\d+(?:\.\d+)?) ", title.strip())
    return match.group(1) if match else None


def documents() -> dict[str, tuple[str, str]]:
    """Return every candidate document."""
    docs = dictionary_entries()
    docs.update(section_paragraphs("sun-tzu_the-art-of-war.md", "war", _roman))
    docs.update(
        section_paragraphs("lewis-carroll_alices-adventures-in-wonderland.txt", "alice", _roman)
    )
    docs.update(
        section_paragraphs("nist-sp-800-88r1_guidelines-for-media-sanitization.pdf", "nist", _nist)
    )
    return docs


def select(docs: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Return the judged documents plus a fixed sample of the rest (the distractors)."""
    judged = {doc for _, doc in QUERIES}
    missing = judged - set(docs)
    if missing:
        raise SystemExit(f"queries name documents that do not exist: {sorted(missing)}")
    picked = {}
    for family, step in (("dd-", 4), ("war-", 3), ("alice-", 8), ("nist-", 4)):
        ids = sorted(d for d in docs if d.startswith(family))
        for position, doc in enumerate(ids):
            if doc in judged or position % step == 0:
                picked[doc] = docs[doc]
    return picked


def main() -> None:
    import sys

    docs = documents()
    if "--list" in sys.argv:
        for doc, (title, text) in docs.items():
            print(f"{doc}\t{title}\t{text[:160]}")
        return
    picked = select(docs)
    with (HERE / "corpus.jsonl").open("w", encoding="utf-8") as out:
        for doc, (title, text) in picked.items():
            out.write(json.dumps({"_id": doc, "title": title, "text": text}, ensure_ascii=False))
            out.write("\n")
    with (HERE / "queries.jsonl").open("w", encoding="utf-8") as out:
        for n, (query, _) in enumerate(QUERIES, 1):
            out.write(json.dumps({"_id": f"q{n:03d}", "text": query}, ensure_ascii=False) + "\n")
    (HERE / "qrels").mkdir(exist_ok=True)
    with (HERE / "qrels" / "test.tsv").open("w", encoding="utf-8") as out:
        out.write("query-id\tcorpus-id\tscore\n")
        for n, (_, doc) in enumerate(QUERIES, 1):
            out.write(f"q{n:03d}\t{doc}\t1\n")
    print(f"{len(picked)} documents, {len(QUERIES)} queries")


if __name__ == "__main__":
    main()
