"""Known-item search over prepared bundles, with whichever HBI the first argument's checkout holds.

Run by bench_english.py once per checkout: `python english_known_items.py CHECKOUT BUNDLES
ITEMS`. It imports `hbi` from CHECKOUT, projects every bundle under BUNDLES into a fresh index
with that checkout's writer (its tokenizers), searches each item's sentence in lexical and
hybrid mode, and prints the 1-based rank of the item's chunk in each (0: not in the top 10).
Only APIs both releases have are used.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

checkout, bundles, items = (Path(arg) for arg in sys.argv[1:4])
sys.path.insert(0, str(checkout))

from hbi.bundle.files import bundle_fingerprint, read_bundle  # noqa: E402
from hbi.embedding import MiniLMEmbedder  # noqa: E402
from hbi.index.db import connect  # noqa: E402
from hbi.index.writer import ProjectedBook, apply_books  # noqa: E402
from hbi.search import LibrarySearch  # noqa: E402

with tempfile.TemporaryDirectory() as scratch:
    index = str(Path(scratch) / "index.sqlite")
    read = [read_bundle(folder) for folder in sorted(bundles.iterdir())]
    connection = connect(index)
    apply_books(connection, [ProjectedBook(b, bundle_fingerprint(b)) for b in read])
    connection.close()
    search = LibrarySearch(index, embed=MiniLMEmbedder().embed)
    ranks: dict[str, list[int]] = {"lexical": [], "hybrid": []}
    for item in json.loads(items.read_text()):
        for mode, found in ranks.items():
            hits = search.search(item["sentence"], mode=mode, k=10).hits
            chunk_ids = [hit.chunk_id for hit in hits]
            found.append(
                chunk_ids.index(item["chunk_id"]) + 1 if item["chunk_id"] in chunk_ids else 0
            )
    search.close()
print(json.dumps(ranks))
