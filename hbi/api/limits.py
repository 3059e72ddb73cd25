"""The bounds on what one API request may ask for, and the middleware that enforces the URL's.

Every parameter that sets how much work a request causes has a ceiling, so no single request
(and no client sending many) can make the server scan, rank or return without bound: the query
text, the page (`k`, `offset`, `limit`), and each filter list, by number of values and length.
The query string as a whole is capped before any parsing, so a megabyte of repeated `book=`
parameters is refused (414) without being split into a list first, and so are the headers (431).
The server stops reading a request head at MAX_REQUEST_HEAD_BYTES (`hbi.api.server`), so no
client makes it buffer more than that.
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
MAX_HEADER_BYTES = 16_384  # names and values together; browsers send a few KiB
# The request line and headers: the two limits above, and room for the method and path.
MAX_REQUEST_HEAD_BYTES = MAX_QUERY_STRING_BYTES + MAX_HEADER_BYTES + 1_024

FilterValue = Annotated[str, StringConstraints(min_length=1, max_length=MAX_FILTER_CHARS)]


class RequestSizeLimitMiddleware:
    """Refuses a query string (414) or headers (431) over their limits, before any parsing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = None
            if len(scope.get("query_string", b"")) > MAX_QUERY_STRING_BYTES:
                refusal = (414, f"query string longer than {MAX_QUERY_STRING_BYTES} bytes")
            elif sum(len(name) + len(value) for name, value in scope["headers"]) > MAX_HEADER_BYTES:
                refusal = (431, f"headers longer than {MAX_HEADER_BYTES} bytes")
            if refusal is not None:
                status, detail = refusal
                await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)
                return
        await self.app(scope, receive, send)
