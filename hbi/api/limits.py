"""The bounds on what one API request may ask for, and the middleware that enforces the URL's.

Every parameter that sets how much work a request causes has a ceiling, so no single request
(and no client sending many) can make the server scan, rank or return without bound: the query
text, the page (`k`, `offset`, `limit`), and each filter list, by number of values and length.
The query string as a whole is capped before any parsing, so a megabyte of repeated `book=`
parameters is refused (414) without being split into a list first.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

MAX_QUERY_CHARS = 1_000
MAX_K = 100
MAX_OFFSET = 10_000
MAX_FILTER_VALUES = 50
MAX_FILTER_CHARS = 300
MAX_ID_CHARS = 300  # book ids are at most 100 characters, section ids shorter still
MAX_BOOKS_PAGE = 1_000
MAX_QUERY_STRING_BYTES = 16_384

FilterValue = Annotated[str, StringConstraints(min_length=1, max_length=MAX_FILTER_CHARS)]


class QueryStringLimitMiddleware:
    """Refuses (414) any request whose query string is longer than MAX_QUERY_STRING_BYTES."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_QUERY_STRING_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and len(scope.get("query_string", b"")) > self.max_bytes:
            response = JSONResponse(
                {"detail": f"query string longer than {self.max_bytes} bytes"}, status_code=414
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
