"""One log record per HTTP request (logger `hbi.api.requests`), and a request id on each response.

The record carries the request id, method, route template, status, latency, client address and
the book id when the route names one, as fields: in JSON mode (`hbi.logs`) each becomes a key a
log store can index. Text mode prints no request lines, as before.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hbi.api.metrics import matched_route

REQUEST_ID_HEADER = "X-Request-Id"
# A caller's id is kept only when it looks like one (a UUID, a proxy's hex or base64 token):
# anything else is replaced, so a log line never carries a client's arbitrary text as its id.
_GIVEN_ID = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")

log = logging.getLogger("hbi.api.requests")


class RequestLogMiddleware:
    """Gives each request an id (the caller's X-Request-Id, else a new one), echoes it in the
    response, and logs the request once it is answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if log.isEnabledFor(logging.INFO):
                _log_request(scope, request_id, status, time.perf_counter() - started)


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            given = value.decode("latin-1")
            if _GIVEN_ID.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex


def _log_request(scope: Scope, request_id: str, status: int, seconds: float) -> None:
    # A HEAD is answered by its GET route (HeadAsGetMiddleware, inside this one).
    probe = {**scope, "method": "GET"} if scope["method"] == "HEAD" else scope
    route, params = matched_route(probe)
    client = scope.get("client")
    fields = {
        "request_id": request_id,
        "method": scope["method"],
        "route": route,
        "status": status,
        "latency_ms": round(seconds * 1000, 1),
        "client": client[0] if client else None,
    }
    if "book_id" in params:
        fields["book_id"] = params["book_id"]
    log.info(f"{scope['method']} {route} {status}", extra=fields)
