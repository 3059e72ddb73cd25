"""Whether the index and the servers behind the API answer, checked afresh on every call."""

from __future__ import annotations

from hbi.graph.store import Graph
from hbi.index.db import connect, default_index_path, versions
from hbi.storage.object_store import ObjectStore


def _sqlite_checks() -> dict[str, dict]:
    path = default_index_path()
    try:
        connection = connect(path, readonly=True)
        try:
            found = versions(connection)
        finally:
            connection.close()
    except Exception as exc:  # any failure to open or query the index is "down", with its cause
        detail = f"{type(exc).__name__}: {exc}"
        return {
            "sqlite": {"ok": False, "endpoint": path, "detail": detail},
            "sqlite_vec": {"ok": False, "endpoint": path, "detail": detail},
        }
    return {
        "sqlite": {"ok": True, "endpoint": path, "version": found["sqlite"]},
        "sqlite_vec": {"ok": bool(found["sqlite_vec"]), "version": found["sqlite_vec"]},
    }


def _service_check(resource_class: type) -> dict:
    # Built from the environment per call, so a changed endpoint is seen at once.
    try:
        resource = resource_class.from_env()
    except KeyError as exc:
        return {"ok": False, "detail": f"not configured: {exc.args[0]} is unset"}
    health = resource.health().as_dict()
    health.pop("service", None)
    return health


def library_health() -> dict:
    """Return {"ok", "checks": {"sqlite", "sqlite_vec", "neo4j", "minio"}}; ok only if all are."""
    checks = _sqlite_checks()
    checks["neo4j"] = _service_check(Graph)
    checks["minio"] = _service_check(ObjectStore)
    return {"ok": all(check["ok"] for check in checks.values()), "checks": checks}
