"""Retention of full backups: the newest of each recent day and week is kept."""

from __future__ import annotations

import pytest

from hbi.backup.retention import backup_time, plan_retention
from hbi.bundle.bucket import unreferenced_bundles


def test_keeps_the_newest_backup_of_each_recent_day_and_week() -> None:
    ids = [
        "20261122T023000Z",  # Sunday, ISO week 47
        "20261121T023000Z",
        "20261121T180000Z",
        "20261120T023000Z",
        "20261115T023000Z",  # Sunday, week 46
        "20261108T023000Z",  # week 45
        "20261101T023000Z",  # week 44
    ]
    plan = plan_retention(ids, keep_daily=2, keep_weekly=3)
    assert plan.keep == [
        "20261122T023000Z",
        "20261121T180000Z",
        "20261115T023000Z",
        "20261108T023000Z",
    ]
    assert set(plan.delete) == set(ids) - set(plan.keep)


def test_the_newest_backup_is_always_kept_and_suffixes_sort_after() -> None:
    plan = plan_retention(["20261122T023000Z", "20261122T023000Z-2"], keep_daily=1, keep_weekly=0)
    assert plan.keep == ["20261122T023000Z-2"]
    assert backup_time("20261122T023000Z-2") == backup_time("20261122T023000Z")


def test_nonsense_policies_are_refused() -> None:
    with pytest.raises(ValueError, match="keep_daily"):
        plan_retention(["20261122T023000Z"], keep_daily=0, keep_weekly=4)


def test_bundles_of_library_books_are_never_stale() -> None:
    bundles = {"kept.md": {"a", "b"}, "gone.md": {"c", "d"}, "gone2.md": {"e"}}
    kept = [{"books": {"gone.md": {"fingerprint": "d"}, "kept.md": {"fingerprint": "a"}}}]
    assert unreferenced_bundles(bundles, {"kept.md"}, kept) == {
        "gone.md": {"c"},
        "gone2.md": {"e"},
    }
