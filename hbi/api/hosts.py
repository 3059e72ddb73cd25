"""Which Host and Origin a server on loopback answers: its own, so DNS rebinding cannot reach it.

A web page on evil.example can make its name resolve to 127.0.0.1 and then call the API from
the visitor's browser as a same-origin page; the browser still sends `Host: evil.example:8000`,
which a loopback server refuses. An Origin, when sent, must name this server too.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = ("localhost",)
DEFAULT_PORTS = {"http": 80, "https": 443}


def is_loopback(host: str) -> bool:
    """Return whether host only accepts connections from this machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def names_this_server(url: str, port: int) -> bool:
    """Return whether a URL (`//host:port` for a Host header) names a loopback host on port."""
    try:
        parts = urlsplit(url)
        given = parts.port or DEFAULT_PORTS.get(parts.scheme or "http")
    except ValueError:  # a port that is not a number
        return False
    return bool(parts.hostname) and is_loopback(parts.hostname) and given == port


class LoopbackHostMiddleware:
    """Refuses requests whose Host (400) or Origin (403) is not a loopback name with our port."""

    def __init__(self, app: ASGIApp, port: int) -> None:
        self.app = app
        self.port = port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            host, origin = headers.get("host", ""), headers.get("origin")
            refusal = None
            if not names_this_server("//" + host, self.port):
                refusal = JSONResponse(
                    {"detail": f"Host {host!r} is not this server (DNS rebinding?)"},
                    status_code=400,
                )
            elif origin is not None and not names_this_server(origin, self.port):
                refusal = JSONResponse(
                    {"detail": f"Origin {origin!r} may not call this server"}, status_code=403
                )
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)
