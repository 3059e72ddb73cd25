"""Questions the ToC graph answers: outlines, sections by title or index term, ToC subtrees.

Cypher over the graph `hbi_resources.graph` writes: (:Book)-[:HAS_SECTION]->(:Section)
-[:HAS_SUBSECTION]->(:Section), (:Book)-[:HAS_TERM]->(:Term)-[:CITES]->(:Section). Every query
is parameterised; matching is case-insensitive.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import neo4j

from hbi.search.models import SectionNotFoundError

SECTION_FIELDS = (
    "section_id: s.section_id, book_id: s.book_id, title: s.title, level: s.level, "
    "path: s.path, page: s.page, page_label: s.page_label, ordinal: s.ordinal"
)


class GraphQueries:
    """Runs HBI's read queries on Neo4j through one driver, opened on first use."""

    def __init__(self, driver_factory: Callable[[], neo4j.Driver], database: str):
        self._factory = driver_factory
        self.database = database
        self._driver: neo4j.Driver | None = None
        self._lock = threading.Lock()

    def _records(self, cypher: str, **params) -> list[dict]:
        with self._lock:
            if self._driver is None:
                self._driver = self._factory()
            driver = self._driver
        records, _, _ = driver.execute_query(
            cypher, params, database_=self.database, routing_=neo4j.RoutingControl.READ
        )
        return [record.data() for record in records]

    def close(self) -> None:
        """Close the driver (a later query opens a new one)."""
        with self._lock:
            if self._driver is not None:
                self._driver.close()
                self._driver = None

    def subtree(self, section_id: str) -> list[str]:
        """Return the section's id and the ids of all its subsections, at any depth."""
        rows = self._records(
            "MATCH (s:Section {section_id: $section_id}) "
            "OPTIONAL MATCH (s)-[:HAS_SUBSECTION*0..]->(d:Section) "
            "RETURN collect(DISTINCT d.section_id) AS ids",
            section_id=section_id,
        )
        # An aggregate answers one row even when nothing matched: an empty list means no section.
        if not rows or not rows[0]["ids"]:
            raise SectionNotFoundError(section_id)
        return sorted(rows[0]["ids"])

    def outline(self, book_id: str) -> dict | None:
        """Return the book and its ToC as a tree of sections (children in reading order)."""
        rows = self._records(
            "MATCH (b:Book {book_id: $book_id}) "
            "OPTIONAL MATCH (b)-[:HAS_SECTION|HAS_SUBSECTION*1..]->(s:Section) "
            "OPTIONAL MATCH (parent:Section)-[:HAS_SUBSECTION]->(s) "
            f"RETURN b.title AS book_title, b.authors AS authors, s {{{SECTION_FIELDS}, "
            "chunks: size(coalesce(s.chunk_ids, []))} AS section, "
            "parent.section_id AS parent_id ORDER BY s.ordinal",
            book_id=book_id,
        )
        if not rows:
            return None
        nodes: dict[str, dict] = {}
        roots: list[dict] = []
        for row in rows:
            section = row["section"]
            if section is None or section["section_id"] in nodes:
                continue
            node = {**section, "children": []}
            nodes[section["section_id"]] = node
            parent = nodes.get(row["parent_id"]) if row["parent_id"] else None
            (parent["children"] if parent else roots).append(node)
        return {
            "book_id": book_id,
            "title": rows[0]["book_title"],
            "authors": rows[0]["authors"],
            "sections": roots,
        }

    def sections_matching(self, term: str, limit: int = 100) -> list[dict]:
        """Return sections of any book whose title holds term or that an index term cites.

        Each row says how it matched: "title", "index", or both, with the index terms.
        """
        found: dict[str, dict] = {}
        by_title = self._records(
            "MATCH (b:Book)-[:HAS_SECTION|HAS_SUBSECTION*1..]->(s:Section) "
            "WHERE toLower(s.title) CONTAINS toLower($term) "
            f"RETURN DISTINCT b.title AS book_title, s {{{SECTION_FIELDS}}} AS section "
            "ORDER BY section.book_id, section.ordinal LIMIT $limit",
            term=term,
            limit=limit,
        )
        by_index = self._records(
            "MATCH (b:Book)-[:HAS_TERM]->(t:Term)-[:CITES]->(s:Section) "
            "WHERE toLower(t.term) CONTAINS toLower($term) "
            "WITH b, s, collect(DISTINCT t.term) AS terms "
            f"RETURN b.title AS book_title, s {{{SECTION_FIELDS}}} AS section, terms "
            "ORDER BY section.book_id, section.ordinal LIMIT $limit",
            term=term,
            limit=limit,
        )
        for how, rows in (("title", by_title), ("index", by_index)):
            for row in rows:
                section = row["section"]
                entry = found.setdefault(
                    section["section_id"],
                    {**section, "book_title": row["book_title"], "matched_by": [], "terms": []},
                )
                entry["matched_by"].append(how)
                entry["terms"].extend(row.get("terms", []))
        ordered = sorted(found.values(), key=lambda s: (s["book_id"], s["ordinal"]))
        return ordered[:limit]

    def term_occurrences(self, term: str) -> list[dict]:
        """Return, per book, the back-of-book index entries named term and the sections cited."""
        return self._records(
            "MATCH (b:Book)-[:HAS_TERM]->(t:Term) WHERE toLower(t.term) = toLower($term) "
            "OPTIONAL MATCH (t)-[:CITES]->(s:Section) "
            "WITH b, t, s ORDER BY s.ordinal "
            "WITH b, t, collect(s {.section_id, .title, .path, .page, .page_label}) AS sections "
            "RETURN b.book_id AS book_id, b.title AS title, t.term AS term, "
            "t.parents AS parents, t.pages AS pages, sections "
            "ORDER BY book_id, term",
            term=term,
        )


def reading_order(sections: list[dict]) -> list[dict]:
    """Return the sections of an outline tree (`GraphQueries.outline`) and all their subsections,
    in reading order."""
    flat, pending = [], list(sections)
    while pending:
        section = pending.pop()
        flat.append(section)
        pending.extend(section["children"])
    return sorted(flat, key=lambda section: section["ordinal"])
