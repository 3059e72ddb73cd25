"""Which queries the sentence model can read.

all-MiniLM-L6-v2 was trained on English: a query written mostly in another script (Chinese,
Greek, Cyrillic, Arabic…) embeds as noise, and fusing that noise with the lexical list only
pushes the lexical leg's right answers down. Such a hybrid search is answered by the lexical
leg alone. Latin-script queries in other languages (French, German…) keep both legs: the model
shares much of their vocabulary and the lexical leg still carries the weight of exact words.
"""

from __future__ import annotations

import unicodedata

LEXICAL_ONLY_REASON = (
    "most of the query's letters are not in Latin script, which the English-only sentence "
    "model cannot read: the lexical list alone ranks it"
)


def model_reads(query: str) -> bool:
    """Return whether at least half of the query's letters are Latin-script (or it has none)."""
    if query.isascii():
        return True
    letters = [c for c in query if c.isalpha()]
    latin = sum(1 for c in letters if c.isascii() or unicodedata.name(c, "").startswith("LATIN"))
    return 2 * latin >= len(letters)
