"""The index's own FTS5 tokenizer, for reading text exactly as FTS5 indexed it.

Query planning, BM25 re-scoring and snippet highlighting must see the same tokens as the
`chunks_fts` table (porter stemming over `hbi_fold`: unicode61 words with accents and case
folded in every script), so they ask SQLite's tokenizer through APSW instead of imitating it.
"""

from __future__ import annotations

import threading

import apsw

from hbi.index import folding

# The `tokenize=` option of chunks_fts in hbi.index.db.SCHEMA, split into tokenizer and args.
TOKENIZER = "porter"
TOKENIZER_ARGS = (folding.TOKENIZER_NAME,)


class Fts5Tokens:
    """Tokenizes text with the index's FTS5 tokenizer; safe to share between threads."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _tokenizer(self) -> apsw.FTS5Tokenizer:
        tokenizer = getattr(self._local, "tokenizer", None)
        if tokenizer is None:
            connection = apsw.Connection(":memory:")
            folding.register(connection)
            tokenizer = connection.fts5_tokenizer(TOKENIZER, list(TOKENIZER_ARGS))
            self._local.connection = connection
            self._local.tokenizer = tokenizer
        return tokenizer

    def tokens(self, text: str, *, query: bool = False) -> list[str]:
        """Return the tokens FTS5 indexes for text (or reads from it in a query)."""
        reason = apsw.FTS5_TOKENIZE_QUERY if query else apsw.FTS5_TOKENIZE_DOCUMENT
        return self._tokenizer()(
            _utf8(text), reason, None, include_offsets=False, include_colocated=False
        )

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """Return (start, end, token) for each token of text, as character offsets."""
        data = _utf8(text)
        found = self._tokenizer()(data, apsw.FTS5_TOKENIZE_DOCUMENT, None, include_colocated=False)
        if len(data) == len(text):  # ASCII: byte offsets are character offsets
            return [(start, end, token) for start, end, token in found]
        char_at = _char_offsets(data)
        return [(char_at[start], char_at[end], token) for start, end, token in found]

    def has_token(self, text: str) -> bool:
        """Return whether FTS5 finds at least one token in text."""
        return bool(self.tokens(text, query=True))


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "ignore")


def _char_offsets(data: bytes) -> list[int]:
    """Return, for each byte offset 0..len(data), the character offset it falls in."""
    offsets = []
    char = -1
    for byte in data:
        if byte & 0xC0 != 0x80:  # not a continuation byte: a new character starts
            char += 1
        offsets.append(char)
    offsets.append(char + 1)
    return offsets
