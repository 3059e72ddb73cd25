"""The rule that turns an object key into a book id (the Dagster partition key).

A key that is already a clean name — lower-case ASCII letters, digits, `_`, `-` and single dots,
no folders, at most 100 characters — is its own book id: `h-g-wells_the-time-machine.pdf`.
Any other key is slugged (folders, spaces, capitals, accents and other characters become `-`,
cut to 80 characters) and gets `-` plus the first 10 hex digits of the SHA-256 of the whole key:
`My Books/Émile.PDF` → `my-books-emile.pdf-3b1f0c2a9d`. The rule depends on the key alone, so
the same key always gives the same id. Two keys share an id only when they slug alike and their
40-bit hashes agree, which gets likely only among a million keys that slug alike; the books
sensor then indexes one of them and reports the other (hbi/books/listing.py) rather than overwrite.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import unicodedata

BOOK_SUFFIXES = (".pdf", ".epub", ".txt", ".md", ".markdown", ".text")
_CLEAN = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$")
_UNSAFE = re.compile(r"[^a-z0-9._-]+")
MAX_CLEAN_LENGTH = 100
SLUG_LENGTH = 80


def book_id_for_key(object_key: str) -> str:
    """Return the stable book id of an object key."""
    if len(object_key) <= MAX_CLEAN_LENGTH and _CLEAN.match(object_key):
        return object_key
    ascii_key = unicodedata.normalize("NFKD", object_key).encode("ascii", "ignore").decode()
    slug = _UNSAFE.sub("-", ascii_key.lower())
    slug = re.sub(r"\.{2,}", ".", slug)
    slug = re.sub(r"-{2,}", "-", slug).strip("-.")[:SLUG_LENGTH].strip("-.") or "book"
    digest = hashlib.sha256(object_key.encode("utf-8")).hexdigest()[:10]
    return f"{slug}-{digest}"


# Documentation that travels with a folder of books is not a book, even as Markdown or text.
IGNORED_NAMES = ("readme*", "manifest*", "license*", "licence*", "changelog*", ".*")


def is_book_key(
    object_key: str,
    suffixes: tuple[str, ...] = BOOK_SUFFIXES,
    ignored_names: tuple[str, ...] = IGNORED_NAMES,
) -> bool:
    """Return whether an object key names a book HBI ingests: a book suffix, not an ignored name.

    Both rules are case-insensitive; `ignored_names` are shell patterns matched on the last
    path segment.
    """
    name = object_key.rsplit("/", 1)[-1].lower()
    if not name or not name.endswith(suffixes):
        return False
    return not any(fnmatch.fnmatchcase(name, pattern) for pattern in ignored_names)
