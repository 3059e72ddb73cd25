"""What deploy/e2e.sh does from inside the stack's network, as a user's client would.

Run in the HBI image on the stack's network (it has the `minio` package and Python):
  python e2e_client.py upload FILE...        put files into the books bucket with the S3 API
  python e2e_client.py delete KEY...         delete objects from the books bucket
  python e2e_client.py search QUERY BOOK_ID [PAGE]
                                             wait until the API finds BOOK_ID for QUERY (with
                                             PAGE: its page PAGE as the first hit); print hits
  python e2e_client.py gone QUERY BOOK_ID    wait until the API no longer finds BOOK_ID
  python e2e_client.py books N               wait until the API lists N books; print them
  python e2e_client.py ocr BOOK_ID PAGE...    check the API's BOOK_ID was read by OCR on exactly
                                             these pages; print their mean confidence
  python e2e_client.py read QUERY BOOK_ID    open BOOK_ID's top hit for QUERY as the web app's
                                             reader does, and list the MCP server's tools
  python e2e_client.py scraped               wait until Prometheus (the monitoring profile)
                                             scrapes the API: up == 1
The S3 endpoint and keys come from HBI's variables; the API is http://hbi-api:8000 and gets
HBI_API_KEY, when set, as X-API-Key; Prometheus is http://prometheus:9090.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from minio import Minio

API = os.environ.get("HBI_E2E_API", "http://hbi-api:8000")
API_KEY = os.environ.get("HBI_API_KEY", "")
PROMETHEUS = "http://prometheus:9090"
TIMEOUT = float(os.environ.get("HBI_E2E_TIMEOUT", "600"))


def _bucket() -> tuple[Minio, str]:
    client = Minio(
        os.environ["HBI_MINIO_ENDPOINT"],
        access_key=os.environ["HBI_MINIO_ACCESS_KEY"],
        secret_key=os.environ["HBI_MINIO_SECRET_KEY"],
        secure=False,
    )
    return client, os.environ.get("HBI_BOOKS_BUCKET", "books")


def _get(path: str) -> object:
    return json.loads(_fetch(path))


def _fetch(path: str, *, data: bytes | None = None, headers: dict | None = None) -> bytes:
    key = {"X-API-Key": API_KEY} if API_KEY else {}
    request = urllib.request.Request(API + path, data=data, headers={**key, **(headers or {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def _hits(query: str) -> list[dict]:
    found = _get("/search?" + urllib.parse.urlencode({"q": query, "k": 10}))
    return found["hits"]  # type: ignore[index]


def _wait(condition, what: str) -> object:
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            result = condition()
        except OSError:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            sys.exit(f"timed out after {TIMEOUT:.0f}s waiting until {what}")
        time.sleep(1)


def upload(paths: list[str]) -> None:
    client, bucket = _bucket()
    for path in paths:
        client.fput_object(bucket, Path(path).name, path)
        print(f"uploaded s3://{bucket}/{Path(path).name} ({Path(path).stat().st_size} bytes)")


def delete(keys: list[str]) -> None:
    client, bucket = _bucket()
    for key in keys:
        client.remove_object(bucket, key)
        print(f"deleted s3://{bucket}/{key}")


def search(query: str, book_id: str, page: str | None = None) -> None:
    def found() -> list[dict]:
        hits = _hits(query)
        if page is not None and not (
            hits and hits[0]["book_id"] == book_id and hits[0]["page_start"] == int(page)
        ):
            return []
        return [h for h in hits if h["book_id"] == book_id]

    where = f"{book_id}" if page is None else f"{book_id} page {page} first"
    hits = _wait(found, f"the API finds {where} for {query!r}")
    for hit in hits:
        page = hit["page_label"] or hit["page_start"] or "-"
        section = " > ".join(hit["section_path"])
        print(f"  hit {hit['rank']}: {hit['book_id']} | {section} | page {page}")


def gone(query: str, book_id: str) -> None:
    _wait(
        lambda: not any(h["book_id"] == book_id for h in _hits(query)),
        f"the API no longer finds {book_id}",
    )
    print(f"the API no longer finds {book_id} for {query!r}")


def books(count: int) -> None:
    def listed() -> list[dict] | None:
        found = _get("/books")
        return found if len(found) == count else None  # type: ignore[arg-type,return-value]

    for book in _wait(listed, f"the API lists {count} books"):  # type: ignore[union-attr]
        print(f"  {book['book_id']}: {book['chunks']} chunks")


def ocr(book_id: str, pages: list[int]) -> None:
    book = _get(f"/books/{urllib.parse.quote(book_id, safe='')}")
    if book["ocr_pages"] != pages:  # type: ignore[index]
        sys.exit(f"{book_id} was read by OCR on pages {book['ocr_pages']}, not {pages}")  # type: ignore[index]
    print(f"  {book_id}: pages {pages} read by OCR, mean confidence {book['ocr_confidence']:.1f}")  # type: ignore[index]


def read(query: str, book_id: str) -> None:
    hit = next(h for h in _hits(query) if h["book_id"] == book_id)
    quoted = urllib.parse.quote(book_id, safe="")
    if hit["page_start"] is not None and _get(f"/books/{quoted}")["format"] == "pdf":  # type: ignore[index]
        place = urllib.parse.urlencode({"page": hit["page_start"], "chunk": hit["chunk_id"]})
        view = _get(f"/books/{quoted}/pages/{hit['page_start']}?chunk={hit['chunk_id']}")
        marked = [s["text"] for line in view["lines"] for s in line["spans"] if s["mark"]]  # type: ignore[index]
        image = _fetch(f"/books/{quoted}/pages/{hit['page_start']}/image")
        if not image.startswith(b"\x89PNG"):
            sys.exit(f"the reader's page image of {book_id} is not a PNG")
    else:
        place = urllib.parse.urlencode(
            {"section": hit["section_id"] or "", "chunk": hit["chunk_id"]}
        )
        view = _get(f"/books/{quoted}/passage?{place}")
        marked = [c["text"] for c in view["chunks"] if c["mark"]]  # type: ignore[index]
    if not marked:
        sys.exit(f"the reader shows no marked passage for {book_id} at {place}")
    page = _fetch(f"/books/{quoted}/read?{place}", headers={"Accept": "text/html"})
    if b"<html" not in page.lower():
        sys.exit("the web app's reader page is not HTML")
    print(f"  reader: /books/{book_id}/read?{place}: {' '.join(marked)[:80]!r}…")
    listing = json.loads(
        _fetch(
            "/mcp",
            data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode(),
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
            },
        )
    )
    print(f"  MCP tools at /mcp: {', '.join(t['name'] for t in listing['result']['tools'])}")


def scraped() -> None:
    query = urllib.parse.urlencode({"query": 'up{job="hbi"}'})

    def up() -> list[dict]:
        with urllib.request.urlopen(f"{PROMETHEUS}/api/v1/query?{query}", timeout=30) as response:
            series = json.load(response)["data"]["result"]
        return [s for s in series if s["value"][1] == "1"]

    for series in _wait(up, "Prometheus scrapes the API (up == 1)"):  # type: ignore[union-attr]
        print(f"  Prometheus: up{{instance={series['metric']['instance']!r}}} == 1")


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    if command == "upload":
        upload(arguments)
    elif command == "delete":
        delete(arguments)
    elif command == "search":
        search(*arguments)
    elif command == "gone":
        gone(*arguments)
    elif command == "read":
        read(*arguments)
    elif command == "ocr":
        ocr(arguments[0], [int(page) for page in arguments[1:]])
    elif command == "scraped":
        scraped()
    elif command == "books":
        books(int(arguments[0]))
    else:
        sys.exit(f"unknown command {command}")
