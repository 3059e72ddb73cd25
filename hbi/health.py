"""The answer every resource's health check gives: one service, up or down, and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ServiceHealth:
    """Whether a service answered, where it lives, what version it runs, and any error."""

    service: str
    ok: bool
    endpoint: str
    version: str | None = None
    detail: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)
