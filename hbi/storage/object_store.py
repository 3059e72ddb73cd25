"""MinIO over S3: the books bucket users drop files into and the backups bucket of bundles.

`ObjectStoreClient` holds every S3 call; it needs only the connection attributes
(`endpoint`, `access_key`, `secret_key`, `secure`, `books_bucket`, `backups_bucket`,
`timeout_s`), so the plain `ObjectStore` and the Dagster resource share it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import urllib3
from minio import Minio
from minio.datatypes import Object
from minio.deleteobjects import DeleteObject
from minio.error import MinioException, S3Error

from hbi import config
from hbi.health import ServiceHealth

# What a failed call to MinIO can raise: S3 errors, transport errors, a refused connection.
OBJECT_STORE_ERRORS = (MinioException, urllib3.exceptions.HTTPError, OSError, ValueError)


def settings_from_env() -> dict:
    """Return the MinIO connection settings from HBI's environment (KeyError when unset)."""
    env = os.environ
    return {
        "endpoint": env[config.ENV_MINIO_ENDPOINT],
        "access_key": env[config.ENV_MINIO_ACCESS_KEY],
        "secret_key": env[config.ENV_MINIO_SECRET_KEY],
        "secure": env.get(config.ENV_MINIO_SECURE, "false").lower() == "true",
        "books_bucket": env.get(config.ENV_BOOKS_BUCKET, config.DEFAULT_BOOKS_BUCKET),
        "backups_bucket": env.get(config.ENV_BACKUPS_BUCKET, config.DEFAULT_BACKUPS_BUCKET),
    }


class ObjectStoreClient:
    """Talks S3 to MinIO: reads books, writes bundles, checks that the server answers."""

    @classmethod
    def from_env(cls):
        """Build the client from HBI's environment variables (after `load_stack_env`)."""
        return cls(**settings_from_env())

    def client(self) -> Minio:
        """Return a MinIO client with bounded timeouts and a few retries on transient errors."""
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5.0, read=self.timeout_s),
            retries=urllib3.Retry(
                total=3, backoff_factor=0.3, status_forcelist=[500, 502, 503, 504]
            ),
            maxsize=16,
        )
        return Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=self.secure,
            http_client=http,
        )

    def ensure_buckets(self) -> list[str]:
        """Create the books and backups buckets where missing; return the ones created."""
        client = self.client()
        created = []
        for bucket in (self.books_bucket, self.backups_bucket):
            if not client.bucket_exists(bucket):
                client.make_bucket(bucket)
                created.append(bucket)
        return created

    def health(self) -> ServiceHealth:
        """Return whether the S3 API answers with HBI's credentials and both buckets exist."""
        try:
            client = self.client()
            names = {bucket.name for bucket in client.list_buckets()}
        except OBJECT_STORE_ERRORS as exc:
            return ServiceHealth("minio", False, self.endpoint, detail=str(exc))
        missing = {self.books_bucket, self.backups_bucket} - names
        detail = f"missing buckets: {', '.join(sorted(missing))}" if missing else None
        return ServiceHealth("minio", not missing, self.endpoint, detail=detail)

    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str) -> str:
        """Store data under bucket/key and return the object's ETag."""
        result = self.client().put_object(
            bucket, key, io.BytesIO(data), len(data), content_type=content_type
        )
        return result.etag

    def put_file(self, bucket: str, key: str, path: str, content_type: str) -> str:
        """Upload a local file to bucket/key and return the object's ETag."""
        return self.client().fput_object(bucket, key, path, content_type=content_type).etag

    def upload_with_manifest(self, bucket: str, prefix: str, folder: Path, names: list[str]) -> int:
        """Upload folder's files, then its manifest.json, under prefix; return the bytes sent.

        The manifest goes last, so a folder whose upload broke off has none and is never used.
        """
        size = 0
        for name in [*names, "manifest.json"]:
            size += (folder / name).stat().st_size
            self.put_file(bucket, prefix + name, str(folder / name), "application/octet-stream")
        return size

    def get_file(self, bucket: str, key: str, path: str) -> None:
        """Download bucket/key into a local file."""
        self.client().fget_object(bucket, key, path)

    def exists(self, bucket: str, key: str) -> bool:
        """Return whether bucket/key exists."""
        try:
            self.client().stat_object(bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                return False
            raise
        return True

    def etag(self, bucket: str, key: str) -> str:
        """Return the current ETag of bucket/key."""
        return self.client().stat_object(bucket, key).etag

    def get_bytes(self, bucket: str, key: str) -> bytes:
        """Return the whole object at bucket/key."""
        response = self.client().get_object(bucket, key)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def list_objects(self, bucket: str, prefix: str | None = None) -> Iterator[Object]:
        """Yield every object under prefix, page by page as the S3 API lists them."""
        yield from self.client().list_objects(bucket, prefix=prefix, recursive=True)

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        """Delete every object under prefix; return how many went (raises if any delete failed)."""
        client = self.client()
        keys = [obj.object_name for obj in client.list_objects(bucket, prefix, recursive=True)]
        errors = list(client.remove_objects(bucket, (DeleteObject(key) for key in keys)))
        if errors:
            raise RuntimeError(
                f"could not delete {len(errors)} objects under s3://{bucket}/{prefix}: "
                f"{errors[0].code} {errors[0].name}"
            )
        return len(keys)


@dataclass(frozen=True)
class ObjectStore(ObjectStoreClient):
    """The object store outside Dagster: the CLI, the API, restores and replicas."""

    endpoint: str
    access_key: str
    secret_key: str
    secure: bool = False
    books_bucket: str = config.DEFAULT_BOOKS_BUCKET
    backups_bucket: str = config.DEFAULT_BACKUPS_BUCKET
    timeout_s: float = 30.0
