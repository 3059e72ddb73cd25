"""Compare a bucket listing with the listing seen last time: what was added, changed, deleted."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SeenObject:
    """An object as the sensor last saw it; `generation` counts its (re)appearances and changes."""

    object_key: str
    etag: str
    book_id: str
    generation: int


@dataclass
class ListingDiff:
    """The changes between two listings of the books bucket."""

    added: list[tuple[str, str]] = field(default_factory=list)  # (key, etag)
    changed: list[tuple[str, str]] = field(default_factory=list)  # (key, new etag)
    deleted: list[SeenObject] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.deleted)


def diff_listing(listing: dict[str, str], seen: dict[str, SeenObject], is_book) -> ListingDiff:
    """Return what changed between the current listing (key → ETag) and what was seen.

    Objects that are not books by `is_book(key)` are reported as ignored and never indexed.
    """
    diff = ListingDiff()
    for key in sorted(listing):
        if not is_book(key):
            diff.ignored.append(key)
            continue
        previous = seen.get(key)
        if previous is None:
            diff.added.append((key, listing[key]))
        elif previous.etag != listing[key]:
            diff.changed.append((key, listing[key]))
    diff.deleted = [obj for key, obj in sorted(seen.items()) if key not in listing]
    return diff
