"""Neo4j: the only Cypher that writes the graph of every book's ToC and back-of-book index.

`GraphClient` needs the connection attributes `uri`, `user`, `password`, `database` and
`transaction_retry_s`, so the plain `Graph` and the Dagster resource share it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import neo4j
from neo4j.exceptions import Neo4jError, ServiceUnavailable

from hbi import config
from hbi.bundle.files import BookBundle
from hbi.health import ServiceHealth


class GraphClient:
    """Opens Bolt sessions on Neo4j, writes books' subgraphs and checks that the server answers."""

    @classmethod
    def from_env(cls):
        """Build the client from HBI's environment variables (after `load_stack_env`)."""
        return cls(**config.neo4j_settings())

    def driver(
        self, connection_timeout_s: float = 10.0, acquisition_timeout_s: float = 60.0
    ) -> neo4j.Driver:
        """Return a new driver; the caller closes it (use it as a context manager).

        The timeouts bound opening a Bolt connection and waiting for a pooled one; readers that
        must fail fast (the API) pass shorter ones than the writers' defaults.
        """
        return neo4j.GraphDatabase.driver(
            self.uri,
            auth=(self.user, self.password),
            connection_timeout=connection_timeout_s,
            connection_acquisition_timeout=acquisition_timeout_s,
            max_transaction_retry_time=self.transaction_retry_s,
            # Schema hints (e.g. "property does not exist yet") are not errors; keep logs clean.
            notifications_min_severity=neo4j.NotificationMinimumSeverity.OFF,
        )

    def health(self) -> ServiceHealth:
        """Return whether Bolt answers a query with HBI's credentials, and the server version."""
        # A plain session.run, not execute_query: a health check reports at once, it never retries,
        # and it waits no longer to connect than a read does (/health needs no API key).
        try:
            with (
                self.driver(
                    connection_timeout_s=config.NEO4J_READ_CONNECT_TIMEOUT_S,
                    acquisition_timeout_s=config.NEO4J_READ_ACQUISITION_TIMEOUT_S,
                ) as driver,
                driver.session(database=self.database) as session,
            ):
                record = session.run(
                    "CALL dbms.components() YIELD versions, edition "
                    "RETURN versions[0] AS version, edition"
                ).single()
        except (Neo4jError, ServiceUnavailable, OSError, ValueError) as exc:
            return ServiceHealth("neo4j", False, self.uri, detail=str(exc).splitlines()[0])
        return ServiceHealth(
            "neo4j", True, self.uri, version=f"{record['version']} {record['edition']}"
        )

    def ensure_schema(self) -> None:
        """Create the uniqueness constraints and lookup indexes (idempotent)."""
        with self.driver() as driver, driver.session(database=self.database) as session:
            for statement in SCHEMA_STATEMENTS:
                session.run(statement).consume()

    def replace_book(self, book: dict, sections: list[dict], terms: list[dict]) -> GraphStats:
        """Replace the book's subgraph (Book, Sections, Terms) in one transaction.

        `sections` carry `chunk_ids`; `terms` carry the `section_ids` their pages fall in. A
        failure part-way leaves the previous subgraph as it was.
        """
        self.ensure_schema()
        with self.driver() as driver, driver.session(database=self.database) as session:
            return session.execute_write(_write_book, book, sections, terms)

    def project_bundle(self, bundle: BookBundle) -> GraphStats:
        """Replace the book's subgraph with the one its bundle describes."""
        chunk_ids: dict[str, list[int]] = {}
        for chunk in bundle.chunks:
            chunk_ids.setdefault(chunk["section_id"], []).append(chunk["chunk_id"])
        sections = [
            {**section, "chunk_ids": chunk_ids.get(section["section_id"], [])}
            for section in bundle.sections
        ]
        return self.replace_book(bundle.book, sections, bundle.terms)

    def book_ids(self) -> set[str]:
        """Return the ids of the books the graph holds."""
        with self.driver() as driver:
            records, _, _ = driver.execute_query(
                "MATCH (b:Book) RETURN b.book_id AS book_id", database_=self.database
            )
        return {record["book_id"] for record in records}

    def delete_book(self, book_id: str) -> int:
        """Remove the book's subgraph; return how many nodes were deleted."""
        with self.driver() as driver, driver.session(database=self.database) as session:
            return session.execute_write(_delete_book, book_id)

    def delete_orphans(self, indexed_book_ids: set[str]) -> int:
        """Delete subgraphs of books no longer in the index; return how many nodes went."""
        with self.driver() as driver:
            records, _, _ = driver.execute_query(
                "MATCH (n) WHERE (n:Book OR n:Section OR n:Term) AND NOT n.book_id IN $ids "
                "RETURN DISTINCT n.book_id AS book_id",
                ids=sorted(indexed_book_ids),
                database_=self.database,
            )
        return sum(self.delete_book(record["book_id"]) for record in records)

    def export_jsonl(self, path: str, batch: int = 5000) -> dict[str, int]:
        """Write every Book, Section and Term with its relationships to a JSON-lines file.

        Reads in batches ordered by id, so it runs while the server serves other work (Community
        edition cannot dump a running database). Returns how many nodes of each label it wrote.
        """
        counts = {}
        queries = {
            "Book": "MATCH (n:Book) WHERE n.book_id > $after RETURN n.book_id AS id, "
            "properties(n) AS props ORDER BY id LIMIT $batch",
            "Section": "MATCH (n:Section) WHERE n.section_id > $after "
            "OPTIONAL MATCH (n)-[:NEXT]->(next:Section) "
            "OPTIONAL MATCH (parent:Section)-[:HAS_SUBSECTION]->(n) "
            "RETURN n.section_id AS id, properties(n) AS props, next.section_id AS next, "
            "parent.section_id AS parent ORDER BY id LIMIT $batch",
            "Term": "MATCH (n:Term) WHERE n.term_id > $after "
            "OPTIONAL MATCH (n)-[:CITES]->(s:Section) "
            "RETURN n.term_id AS id, properties(n) AS props, collect(s.section_id) AS cites "
            "ORDER BY id LIMIT $batch",
        }
        with self.driver() as driver, open(path, "w") as out:
            for label, query in queries.items():
                after, counts[label] = "", 0
                while True:
                    records, _, _ = driver.execute_query(
                        query, after=after, batch=batch, database_=self.database
                    )
                    for record in records:
                        out.write(json.dumps({"label": label, **record.data()}) + "\n")
                    counts[label] += len(records)
                    if len(records) < batch:
                        break
                    after = records[-1]["id"]
        return counts

    def toc(self, book_id: str) -> list[dict]:
        """Return the book's sections in reading order: level, title, page, label, path, ids."""
        with self.driver() as driver:
            records, _, _ = driver.execute_query(
                "MATCH (s:Section {book_id: $book_id}) "
                "RETURN s.section_id AS section_id, s.level AS level, s.title AS title, "
                "s.page AS page, s.page_label AS page_label, s.path AS path, "
                "s.chunk_ids AS chunk_ids ORDER BY s.ordinal",
                book_id=book_id,
                database_=self.database,
            )
        return [record.data() for record in records]

    def counts(self, book_id: str) -> dict[str, int]:
        """Return how many Section and Term nodes and NEXT links the book has."""
        with self.driver() as driver:
            records, _, _ = driver.execute_query(
                "OPTIONAL MATCH (s:Section {book_id: $book_id}) "
                "WITH count(s) AS sections "
                "OPTIONAL MATCH (t:Term {book_id: $book_id}) "
                "WITH sections, count(t) AS terms "
                "OPTIONAL MATCH (:Section {book_id: $book_id})-[n:NEXT]->() "
                "RETURN sections, terms, count(n) AS next_links",
                book_id=book_id,
                database_=self.database,
            )
        return records[0].data()


SCHEMA_STATEMENTS = (
    "CREATE CONSTRAINT book_id IF NOT EXISTS FOR (b:Book) REQUIRE b.book_id IS UNIQUE",
    "CREATE CONSTRAINT section_id IF NOT EXISTS FOR (s:Section) REQUIRE s.section_id IS UNIQUE",
    "CREATE CONSTRAINT term_id IF NOT EXISTS FOR (t:Term) REQUIRE t.term_id IS UNIQUE",
    "CREATE INDEX section_book IF NOT EXISTS FOR (s:Section) ON (s.book_id)",
    "CREATE INDEX term_book IF NOT EXISTS FOR (t:Term) ON (t.book_id)",
    "CREATE INDEX term_name IF NOT EXISTS FOR (t:Term) ON (t.term)",
)
BATCH = 1000


@dataclass(frozen=True)
class GraphStats:
    """What one book's graph write created."""

    sections: int
    next_links: int
    terms: int
    term_links: int


def _batches(items: list, size: int = BATCH) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


def _delete_book(tx: neo4j.ManagedTransaction, book_id: str) -> int:
    deleted = 0
    for label in ("Term", "Section", "Book"):
        record = tx.run(
            f"MATCH (n:{label} {{book_id: $book_id}}) DETACH DELETE n RETURN count(n) AS n",
            book_id=book_id,
        ).single()
        deleted += record["n"] if record else 0
    return deleted


def _write_book(
    tx: neo4j.ManagedTransaction, book: dict, sections: list[dict], terms: list[dict]
) -> GraphStats:
    _delete_book(tx, book["book_id"])
    tx.run(
        "CREATE (b:Book {book_id: $b.book_id, title: $b.title, authors: $b.authors, "
        "format: $b.format, toc_derived: $b.toc_derived})",
        b=book,
    ).consume()
    for batch in _batches(sections):
        tx.run(
            "UNWIND $rows AS s "
            "CREATE (:Section {section_id: s.section_id, book_id: s.book_id, ordinal: s.ordinal, "
            "level: s.level, title: s.title, path: s.path, page: s.page, "
            "page_label: s.page_label, is_matter: s.is_matter, chunk_ids: s.chunk_ids})",
            rows=batch,
        ).consume()
    tops = [s["section_id"] for s in sections if s["parent_id"] is None]
    children = [
        {"parent": s["parent_id"], "child": s["section_id"]} for s in sections if s["parent_id"]
    ]
    pairs = [
        {"a": a["section_id"], "b": b["section_id"]}
        for a, b in zip(sections, sections[1:], strict=False)
    ]
    for batch in _batches(tops):
        tx.run(
            "MATCH (b:Book {book_id: $book_id}) UNWIND $ids AS id "
            "MATCH (s:Section {section_id: id}) CREATE (b)-[:HAS_SECTION]->(s)",
            book_id=book["book_id"],
            ids=batch,
        ).consume()
    for batch in _batches(children):
        tx.run(
            "UNWIND $rows AS r MATCH (p:Section {section_id: r.parent}) "
            "MATCH (c:Section {section_id: r.child}) CREATE (p)-[:HAS_SUBSECTION]->(c)",
            rows=batch,
        ).consume()
    for batch in _batches(pairs):
        tx.run(
            "UNWIND $rows AS r MATCH (a:Section {section_id: r.a}) "
            "MATCH (b:Section {section_id: r.b}) CREATE (a)-[:NEXT]->(b)",
            rows=batch,
        ).consume()
    term_links = 0
    for batch in _batches(terms):
        record = tx.run(
            "MATCH (b:Book {book_id: $book_id}) UNWIND $rows AS t "
            "CREATE (b)-[:HAS_TERM]->(x:Term {term_id: t.term_id, book_id: t.book_id, "
            "term: t.term, parents: t.parents, pages: t.pages}) "
            "WITH x, t UNWIND t.section_ids AS sid "
            "MATCH (s:Section {section_id: sid}) CREATE (x)-[:CITES]->(s) "
            "RETURN count(*) AS links",
            book_id=book["book_id"],
            rows=batch,
        ).single()
        term_links += record["links"] if record else 0
    return GraphStats(len(sections), len(pairs), len(terms), term_links)


@dataclass(frozen=True)
class Graph(GraphClient):
    """The graph outside Dagster: the CLI, the API, restores."""

    uri: str
    password: str
    user: str = "neo4j"
    database: str = config.DEFAULT_NEO4J_DATABASE
    # How long the driver retries a transaction on a transient error.
    transaction_retry_s: float = 10.0
