"""The Neo4j graph of every book's ToC and back-of-book index: all of HBI's Cypher lives here."""
