"""Turn any user string into a safe FTS5 MATCH expression.

Every word becomes a double-quoted FTS5 string (embedded quotes doubled), so no user input can
reach FTS5's query syntax: quotes, `NEAR`, `*`, `:`, `-`, parentheses and column filters in the
input are plain text. Words are OR-ed, and BM25 ranks passages that hold more of them higher.
"""

from __future__ import annotations

import re

MAX_TERMS = 32
_WORD = re.compile(r"\w+", re.UNICODE)


def match_expression(query: str) -> str | None:
    """Return an FTS5 MATCH expression for query, or None if it holds no searchable word."""
    words = _WORD.findall(query)[:MAX_TERMS]
    if not words:
        return None
    return " OR ".join('"' + word.replace('"', '""') + '"' for word in words)
