"""Compare a bucket listing with the listing seen last time: what was added, changed, deleted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hbi.books.ids import book_id_for_key


@dataclass(frozen=True)
class SeenObject:
    """An object as the sensor last saw it; `generation` counts its (re)appearances and changes."""

    object_key: str
    etag: str
    book_id: str
    generation: int


@dataclass(frozen=True)
class IdCollision:
    """An object left out because another object in the bucket already holds its book id."""

    object_key: str
    book_id: str
    holder_key: str

    def __str__(self) -> str:
        return (
            f"{self.object_key!r} is not indexed: its book id {self.book_id!r} belongs to "
            f"{self.holder_key!r}; rename one of the two objects"
        )


@dataclass
class ListingDiff:
    """The changes between two listings of the books bucket."""

    added: list[tuple[str, str]] = field(default_factory=list)  # (key, etag)
    changed: list[tuple[str, str]] = field(default_factory=list)  # (key, new etag)
    deleted: list[SeenObject] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    collisions: list[IdCollision] = field(default_factory=list)
    held_ids: set[str] = field(default_factory=set)  # book ids of the objects still listed

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.deleted)

    @property
    def removals(self) -> list[SeenObject]:
        """Deleted objects whose book id no listed object holds: their books must be removed."""
        return [obj for obj in self.deleted if obj.book_id not in self.held_ids]


def diff_listing(
    listing: dict[str, str],
    seen: dict[str, SeenObject],
    is_book: Callable[[str], bool],
    book_id_for: Callable[[str], str] = book_id_for_key,
) -> ListingDiff:
    """Return what changed between the current listing (key → ETag) and what was seen.

    Objects that are not books by `is_book(key)` are reported as ignored and never indexed. Two
    keys with one book id (`book_id_for`) would overwrite each other's book, so the key that
    holds the id (seen before, else first in key order) keeps it and the other is reported as
    a collision until one of them goes. A deleted object whose id another listed object holds
    has that object indexed again instead of its book removed.
    """
    diff = ListingDiff(ignored=sorted(key for key in listing if not is_book(key)))
    books = sorted((key for key in listing if is_book(key)), key=lambda key: (key not in seen, key))
    holders: dict[str, str] = {}
    for key in books:
        book_id = seen[key].book_id if key in seen else book_id_for(key)
        holder = holders.setdefault(book_id, key)
        if holder != key:
            diff.collisions.append(IdCollision(key, book_id, holder))
        elif key not in seen:
            diff.added.append((key, listing[key]))
        elif seen[key].etag != listing[key]:
            diff.changed.append((key, listing[key]))
    diff.collisions.sort(key=lambda collision: collision.object_key)
    diff.held_ids = set(holders)
    requested = {key for key, _ in diff.added + diff.changed}
    for key, obj in sorted(seen.items()):
        if key in listing:
            continue
        diff.deleted.append(obj)
        holder = holders.get(obj.book_id)
        if holder is not None and holder not in requested:
            diff.changed.append((holder, listing[holder]))
            requested.add(holder)
    return diff
