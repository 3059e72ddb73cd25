"""A real `hbi serve` process and the raw-socket clients that probe it as hostile ones would."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

HBI = str(Path(sys.executable).parent / "hbi")


@dataclass
class ServedApi:
    """An `hbi serve` subprocess on 127.0.0.1:port."""

    process: subprocess.Popen
    port: int
    api_key: str
    log: IO[str]

    def stderr(self) -> str:
        """Return what the server has written to stderr so far."""
        self.log.seek(0)
        return self.log.read()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, **params: object) -> httpx.Response:
        """GET path with the API key, on a fresh connection."""
        return httpx.get(
            self.url + path, params=params, headers={"X-API-Key": self.api_key}, timeout=60
        )

    def timed_get(self, path: str, **params: object) -> tuple[httpx.Response, float]:
        """Return the response to a GET with the key, and the seconds it took."""
        started = time.perf_counter()
        response = self.get(path, **params)
        return response, time.perf_counter() - started

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_api(
    port: int, *args: str, api_key: str = "", environ: Mapping[str, str] | None = None
) -> ServedApi:
    """Start `hbi serve --port port ARGS` in this process's environment with `environ` on top;
    return when it answers."""
    # A file, not a pipe: a server that logs more than a pipe holds would block on it. It lives
    # as long as the server, so no `with`.
    log = tempfile.TemporaryFile("w+")  # noqa: SIM115
    process = subprocess.Popen(
        [HBI, "serve", "--port", str(port), *args],
        env={**os.environ, **(environ or {})},
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    served = ServedApi(process, port, api_key, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"hbi serve exited: {served.stderr()}")
        try:
            httpx.get(served.url + "/health", timeout=30)
            return served
        except httpx.TransportError:
            time.sleep(0.2)
    served.stop()
    raise RuntimeError("hbi serve did not answer within 60 s")


@dataclass
class RawResponse:
    """What a server sent back on one raw connection, and when it closed it."""

    status: int | None
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self) -> dict:
        return json.loads(self.body)


def parse(raw: bytes, seconds: float) -> RawResponse:
    """Split a raw HTTP/1.1 response into status, lower-cased headers and body."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/"):
        return RawResponse(None, {}, raw, seconds)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(int(lines[0].split()[1]), headers, body, seconds)


def raw_exchange(
    port: int, chunks: list[bytes], pause_s: float = 0.0, timeout_s: float = 30.0
) -> RawResponse:
    """Send chunks on one connection (pause_s apart) while reading; return what came back.

    Reading runs alongside sending, so a server that answers and closes before the client has
    sent everything is seen answering; the client's writes then fail, which is expected.
    """
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(timeout_s)
    started = time.perf_counter()

    def send_all() -> None:
        try:
            for chunk in chunks:
                sock.sendall(chunk)
                if pause_s:
                    time.sleep(pause_s)
        except OSError:
            pass

    sender = threading.Thread(target=send_all, daemon=True)
    sender.start()
    received = bytearray()
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            received += data
    except (ConnectionResetError, TimeoutError):
        pass
    seconds = time.perf_counter() - started
    sock.close()
    return parse(bytes(received), seconds)
