"""Fixtures for the resilience tests that drop files into a books bucket of the real stack."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator

import pytest

from hbi.cli.sync import sync_once
from hbi_resources.object_store import ObjectStoreResource


def upload(store: ObjectStoreResource, key: str, data: bytes) -> None:
    """Put an object as any S3 client would: straight into the bucket, no HBI call."""
    store.client().put_object(store.books_bucket, key, io.BytesIO(data), len(data))


@pytest.fixture
def synced_bucket(
    object_store: ObjectStoreResource, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> Iterator[ObjectStoreResource]:
    """A fresh books bucket HBI syncs from; afterwards its books are deleted and synced away.

    The index, graph and Dagster instance are the session's, so the final sync (which removes
    every book the test indexed) keeps these books out of other tests' results.
    """
    name = f"books-{uuid.uuid4().hex[:12]}"
    object_store.client().make_bucket(name)
    monkeypatch.setenv("HBI_BOOKS_BUCKET", name)
    monkeypatch.setenv("HBI_STATE_PATH", str(tmp_path / "sensor.sqlite"))
    store = ObjectStoreResource.from_env()
    yield store
    client = store.client()
    for obj in list(store.list_objects(name)):
        client.remove_object(name, obj.object_name)
    sync_once()
