"""Character bigrams for scripts written without spaces between words (Chinese, Japanese, Thai…).

FTS5's `unicode61` makes one token of a whole run of such characters, so a two-character word
inside a line of Chinese is never found by `chunks_fts`. The `chunks_cjk` table indexes the same
chunks with this tokenizer instead: every run of characters of those scripts becomes its
overlapping character bigrams (a one-character run becomes itself), as Lucene's CJK bigram
filter does, and every other character yields nothing. A word of n characters is then the
phrase of its n - 1 bigrams, which FTS5 matches at consecutive positions; a book without such
characters adds no token to the table, so English ranking never sees it.

Bigrams rather than dictionary segmentation: they need no word list per language (ICU is not
installed, and APSW's Python tokenizers cost 0.1 s to import, a third of a CLI search's
start-up), and query and index are cut the same way, so any substring of two or more
characters of a run is found. The tokenizer is plain Python and must be registered on every
connection that writes or searches `chunks_cjk` (`hbi.index.db.connect` does).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import cache

import apsw

TOKENIZER_NAME = "hbi_bigrams"

# Unicode blocks of scripts that do not separate words with spaces, plus Hangul (spaced by
# phrase, with particles attached, so a noun alone is not a unicode61 token either).
UNSEGMENTED_CHARS = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1100-\u11ff"  # Hangul Jamo
    "\u1780-\u17ff"  # Khmer
    "\u3005-\u3007"  # 々 〆 〇
    "\u3040-\u30ff"  # Hiragana, Katakana (with ー)
    "\u3130-\u318f"  # Hangul compatibility Jamo
    "\u31f0-\u31ff"  # Katakana phonetic extensions
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U00020000-\U0003134f"  # CJK extensions B-H and compatibility supplement
)

Token = tuple[int, int, str]


@cache
def unsegmented_run() -> re.Pattern[str]:
    """Return the pattern of a run of unsegmented characters (compiled on first use: ~10 ms,
    which a CLI search of English words need not pay)."""
    return re.compile(f"[{UNSEGMENTED_CHARS}]+")


def unsegmented_runs(text: str) -> list[str]:
    """Return the runs of unsegmented characters in text, in order."""
    return [] if text.isascii() else unsegmented_run().findall(text)


def bigrams(text: str, *, with_characters: bool = True) -> Iterator[Token]:
    """Yield (UTF-8 start, UTF-8 end, token, …) for each bigram of each unsegmented run of text.

    `with_characters` (documents) adds each bigram's first character as a colocated token, and
    the run's last character to its last bigram, so a one-character query finds every
    occurrence; positions stay one per bigram, which phrases of bigrams need. Offsets are in
    bytes of text encoded as UTF-8 (surrogate escapes kept), as FTS5 wants them.
    """
    byte = 0  # UTF-8 offset of character `char`
    char = 0
    for run in unsegmented_run().finditer(text):
        start, end = run.span()
        byte += len(text[char:start].encode("utf-8", "surrogateescape"))
        # Every character of these blocks is 3 bytes in UTF-8, or 4 beyond the BMP.
        edges = [byte]
        for c in run.group():
            edges.append(edges[-1] + (4 if c > "\uffff" else 3))
        if end - start == 1:
            yield edges[0], edges[1], run.group()
        else:
            last = end - start - 2
            for i in range(last + 1):
                pair = text[start + i : start + i + 2]
                if not with_characters:
                    yield edges[i], edges[i + 2], pair
                elif i < last:
                    yield edges[i], edges[i + 2], pair, pair[0]
                else:
                    yield edges[i], edges[i + 2], pair, pair[0], pair[1]
        byte, char = edges[-1], end


def bigram_tokenizer(
    connection: apsw.Connection, args: list[str]
) -> Callable[[bytes, int, str | None], Iterator[Token] | tuple[()]]:
    """Return the FTS5 tokenizer of `hbi_bigrams` (it takes no arguments)."""
    if args:
        raise ValueError(f"{TOKENIZER_NAME} takes no arguments, got {args!r}")

    def tokenize(utf8: bytes, flags: int, locale: str | None) -> Iterator[Token] | tuple[()]:
        if utf8.isascii():  # most text of most libraries: nothing to decode
            return ()
        text = utf8.decode("utf-8", "surrogateescape")
        return bigrams(text, with_characters=not flags & apsw.FTS5_TOKENIZE_QUERY)

    return tokenize


def register(connection: apsw.Connection) -> None:
    """Make `hbi_bigrams` available to the FTS5 tables of connection."""
    connection.register_fts5_tokenizer(TOKENIZER_NAME, bigram_tokenizer)
