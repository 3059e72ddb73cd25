"""`run`: serves the API on uvicorn with bounded, deadlined requests, for `hbi serve`.

uvicorn's default HTTP parser (httptools) buffers a request head of any size: a 256 MiB header
took 52 s to read and froze every route meanwhile. h11, uvicorn's other parser, stops at
MAX_REQUEST_HEAD_BYTES. Neither times out a request that arrives slowly (a slowloris client
held a connection open for as long as it sent a byte now and then): BoundedH11Protocol gives
each request REQUEST_TIMEOUT_S from its first byte to its last, and answers the requests it
refuses in the API's JSON error shape, not uvicorn's plain text.
"""

from __future__ import annotations

import asyncio
import http
import json

import h11
import uvicorn
from fastapi import FastAPI
from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.h11_impl import H11Protocol

from hbi.api.limits import MAX_REQUEST_HEAD_BYTES
from hbi.logs import uvicorn_log_config

# A client's whole request (GETs have no body) must arrive within this; real clients send it in
# one packet, so only a slow or stalled client ever meets it.
REQUEST_TIMEOUT_S = 5.0
# How long an idle keep-alive connection stays open between requests (uvicorn's default).
KEEP_ALIVE_S = 5


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on reading each request and JSON refusals."""

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing():
            self._arm_deadline()
        else:
            self._cancel_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        """Refuse a request h11 could not parse: 414 or 431 when its head is too long, else 400."""
        pending, _ = self.conn.trailing_data
        if len(pending) <= MAX_REQUEST_HEAD_BYTES:
            self._refuse(400, "invalid HTTP request")
        elif b"\n" not in pending[:MAX_REQUEST_HEAD_BYTES]:
            self._refuse(414, f"request line longer than {MAX_REQUEST_HEAD_BYTES} bytes")
        else:
            self._refuse(431, f"request head longer than {MAX_REQUEST_HEAD_BYTES} bytes")

    def _arm_deadline(self) -> None:
        # Armed when a request starts (or the connection opens), not pushed back by each byte.
        if self._deadline is None:
            self._deadline = self.loop.call_later(REQUEST_TIMEOUT_S, self._request_timed_out)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _request_timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        pending, _ = self.conn.trailing_data
        if self.conn.their_state is h11.IDLE and pending:
            self._refuse(408, f"request not received within {REQUEST_TIMEOUT_S:g} s")
        else:
            # Nothing sent yet, or a body still trickling in while the app answers: just close.
            self.transport.close()

    def _refuse(self, status: int, detail: str) -> None:
        # Written as bytes: h11 cannot send a response for a request it never parsed.
        body = json.dumps({"detail": detail}).encode()
        head = (
            f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
            "content-type: application/json\r\n"
            f"content-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        self.transport.close()


def run(app: FastAPI, host: str, port: int) -> None:
    """Serve app on host:port until interrupted."""
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        log_config=uvicorn_log_config() or LOGGING_CONFIG,
        # The API logs each request itself (hbi.api.request_log), with its id, route and latency.
        access_log=False,
        http=BoundedH11Protocol,
        h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES,
        timeout_keep_alive=KEEP_ALIVE_S,
        # The API has no WebSocket route; an upgrade would hand the connection to a protocol
        # without the request deadline.
        ws="none",
    )
