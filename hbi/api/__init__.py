"""The HTTP API: search, books, ToCs, health and metrics over FastAPI (`hbi serve`)."""

from hbi.api.app import create_app

__all__ = ["create_app"]
