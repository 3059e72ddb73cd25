"""The SQLite index (FTS5 + sqlite-vec): the only SQL on it lives in this package.

`db` opens it and declares the schema, `writer` is the one write path (bundles in, books out),
`reads` answers what it holds, `maintenance` keeps it lean; the search's queries are in
hbi/index/search.py.
"""
