"""Graph-backed search on the real Neo4j: ToC-subtree filter, outlines, titles and index terms."""

from __future__ import annotations

from dataclasses import replace

import pytest
from search_corpus import WAR, Library

from hbi.search import SectionNotFoundError
from hbi_resources.graph import GraphResource
from hbi_resources.search import SearchResource

pytestmark = pytest.mark.integration

DECEPTION = "deception (hbi search test)"


@pytest.fixture(scope="module")
def war_graph(library: Library, graph: GraphResource) -> dict[str, str]:
    """Project The Art of War's bundle into the graph as book_toc_graph does; return section
    ids by title."""
    bundle = library.bundles[WAR]
    ids = {s["title"]: s["section_id"] for s in bundle.sections}
    # The Markdown edition has no back-of-book index: give it one entry citing two chapters.
    terms = [
        {
            "term_id": f"{WAR}#t-test-deception",
            "book_id": WAR,
            "term": DECEPTION,
            "parents": [],
            "pages": ["1", "6"],
            "section_ids": [ids["I. LAYING PLANS"], ids["VI. WEAK POINTS AND STRONG"]],
        }
    ]
    graph.project_bundle(replace(bundle, terms=terms))
    return ids


@pytest.fixture(scope="module")
def resource(library: Library, graph: GraphResource) -> SearchResource:
    return SearchResource(index_path=str(library.path), graph=graph)


@pytest.mark.parametrize("mode", ["lexical", "semantic", "hybrid"])
def test_section_filter_keeps_hits_in_that_chapter(resource, war_graph, mode) -> None:
    chapter = war_graph["III. ATTACK BY STRATAGEM"]
    hits = resource.search("the enemy", mode=mode, k=10, section_id=chapter).hits
    assert hits
    assert {h.section_id for h in hits} == {chapter}


def test_section_filter_includes_subsections(resource, war_graph) -> None:
    parent = war_graph["Year: 500 BC"]  # the Markdown headings nest all chapters under it
    hits = resource.search("the enemy", k=40, section_id=parent).hits
    chapters = {h.section_path[-1] for h in hits}
    assert len(chapters) > 3
    assert all(h.section_path[:2] == ["Title: The Art of War", "Year: 500 BC"] for h in hits)


def test_unknown_section_is_an_error(resource, war_graph) -> None:
    with pytest.raises(SectionNotFoundError):
        resource.search("enemy", section_id=f"{WAR}#s9999")


def test_outline_is_the_toc_tree(resource, war_graph) -> None:
    outline = resource.outline(WAR)
    assert outline["title"] == "The Art of War" and outline["authors"] == ["Sun Tzu"]
    [root] = outline["sections"]
    assert root["title"] == "Title: The Art of War"
    assert [c["title"] for c in root["children"]] == ["Author: Sun Tzu", "Year: 500 BC"]
    chapters = root["children"][1]["children"]
    assert len(chapters) == 13
    assert chapters[0]["title"] == "I. LAYING PLANS" and chapters[0]["chunks"] > 0
    assert resource.outline("no-such-book") is None


def test_sections_matching_a_title(resource, war_graph) -> None:
    found = resource.sections_matching("stratagem")
    mine = [s for s in found if s["section_id"] == war_graph["III. ATTACK BY STRATAGEM"]]
    assert mine and mine[0]["matched_by"] == ["title"]
    assert mine[0]["book_title"] == "The Art of War"


def test_sections_matching_an_index_term(resource, war_graph) -> None:
    found = {s["section_id"]: s for s in resource.sections_matching("deception (hbi")}
    chapter = found[war_graph["VI. WEAK POINTS AND STRONG"]]
    assert chapter["matched_by"] == ["index"] and chapter["terms"] == [DECEPTION]
    assert war_graph["I. LAYING PLANS"] in found


def test_term_occurrences_across_the_library(resource, war_graph) -> None:
    [entry] = [e for e in resource.term_occurrences(DECEPTION.upper()) if e["book_id"] == WAR]
    assert entry["title"] == "The Art of War" and entry["pages"] == ["1", "6"]
    assert [s["title"] for s in entry["sections"]] == [
        "I. LAYING PLANS",
        "VI. WEAK POINTS AND STRONG",
    ]
