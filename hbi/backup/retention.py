"""Which full backups to keep: the newest of each of the last N days and of the last M weeks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

ID_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
ID_TIME_LENGTH = len("20261122T031500Z")


@dataclass(frozen=True)
class RetentionPlan:
    """The full backups a retention pass keeps and deletes, newest first."""

    keep: list[str]
    delete: list[str]


def backup_time(backup_id: str) -> datetime:
    """Return when a full backup was taken, from its id (`20261122T031500Z`, maybe `-2` after)."""
    return datetime.strptime(backup_id[:ID_TIME_LENGTH], ID_TIME_FORMAT).replace(tzinfo=UTC)


def plan_retention(backup_ids: Iterable[str], keep_daily: int, keep_weekly: int) -> RetentionPlan:
    """Keep the newest backup of each of the `keep_daily` most recent days that have one, and of
    each of the `keep_weekly` most recent ISO weeks that have one; delete the rest.

    Days and weeks are UTC. The newest backup is always kept, so a pass never empties the bucket.
    """
    if keep_daily < 1 or keep_weekly < 0:
        raise ValueError(
            f"retention needs keep_daily >= 1 and keep_weekly >= 0, got {keep_daily}/{keep_weekly}"
        )
    newest_first = sorted(set(backup_ids), key=lambda b: (backup_time(b), b), reverse=True)
    kept: set[str] = set()
    for period, limit in (
        (lambda t: t.date(), keep_daily),
        (lambda t: t.isocalendar()[:2], keep_weekly),
    ):
        seen = []
        for backup in newest_first:
            key = period(backup_time(backup))
            if key in seen:
                continue
            if len(seen) == limit:
                break
            seen.append(key)
            kept.add(backup)
    return RetentionPlan(
        keep=[b for b in newest_first if b in kept],
        delete=[b for b in newest_first if b not in kept],
    )
