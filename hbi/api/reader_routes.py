"""The reader's JSON routes: PDF pages (text layer and image), passages, chunks, index terms and
the library with its failed and pending books. `create_app` includes `reader_router()`, so the
API key guards these routes like every other."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import apsw
from fastapi import APIRouter, HTTPException, Query, Response
from fastapi import Path as PathParam

from hbi.api.limits import MAX_ID_CHARS
from hbi.config import layout
from hbi.index.db import connect, default_index_path
from hbi.reader.book_files import BookFiles
from hbi.reader.errors import (
    NotAPdfError,
    NotFoundError,
    ReaderError,
    SourceChangedError,
    SourceUnavailableError,
    UnreadablePageError,
)
from hbi.reader.library import LibraryView
from hbi.reader.pages import page_image, page_view
from hbi.reader.passages import MAX_AROUND, book_terms, chunk_view, passage_view
from hbi.reader.pdf_pages import DEFAULT_WIDTH
from hbi.storage.object_store import ObjectStore

BookId = Annotated[str, PathParam(max_length=MAX_ID_CHARS)]
# Chunk ids are SQLite integers: anything outside 64 bits names no chunk.
ChunkId = Annotated[int, PathParam(ge=-(2**63), le=2**63 - 1)]
ChunkParam = Annotated[
    int | None, Query(ge=-(2**63), le=2**63 - 1, description="The passage to mark")
]
MAX_TERMS_PAGE = 1_000
_STATUS = {
    NotFoundError: 404,
    NotAPdfError: 400,
    SourceChangedError: 409,
    UnreadablePageError: 422,
    SourceUnavailableError: 503,
}


@contextmanager
def _index() -> Iterator[apsw.Connection]:
    connection = connect(default_index_path(), readonly=True)
    try:
        yield connection
    finally:
        connection.close()


@contextmanager
def _answers() -> Iterator[None]:
    """Turns the reader's typed errors into HTTP errors with their reason as the detail."""
    try:
        yield
    except ReaderError as exc:
        raise HTTPException(_STATUS.get(type(exc), 500), str(exc)) from exc


def _object_store() -> ObjectStore | None:
    try:
        return ObjectStore.from_env()
    except KeyError:
        return None


class _BookFilesFromEnv:
    """The API's local copies of book files, from the object store of HBI's environment."""

    def __init__(self) -> None:
        self._files: BookFiles | None = None

    def path(self, book: dict) -> Path:
        """The local copy of the indexed book's file (`BookFiles.path`)."""
        if self._files is None:
            store = _object_store()
            if store is None:
                raise SourceUnavailableError(book["book_id"], "the object store is not configured")
            self._files = BookFiles(store, layout().root / "cache" / "books")
        return self._files.path(book)


def reader_router() -> APIRouter:
    """Return the reader's routes, with their own file cache and library listing."""
    router = APIRouter(tags=["reader"])
    files = _BookFilesFromEnv()
    library_view = LibraryView(_object_store)

    @router.get("/books/{book_id}/pages/{page}", summary="A PDF page's text layer")
    def pdf_page(
        book_id: BookId,
        page: Annotated[int, PathParam(ge=1, le=1_000_000, description="1-based physical page")],
        chunk: ChunkParam = None,
    ) -> dict:
        """Return the page's lines with boxes (fractions of the page), its label, breadcrumb and
        passages; with `chunk`, the spans holding that passage have `mark` true."""
        with _answers(), _index() as connection:
            return page_view(connection, files.path, book_id, page, chunk)

    @router.get(
        "/books/{book_id}/pages/{page}/image",
        summary="A PDF page as PNG",
        response_class=Response,
        responses={200: {"content": {"image/png": {}}}},
    )
    def pdf_page_image(
        book_id: BookId,
        page: Annotated[int, PathParam(ge=1, le=1_000_000, description="1-based physical page")],
        width: Annotated[
            int, Query(ge=1, le=1_000_000, description="Pixels, clamped to 200..2000")
        ] = DEFAULT_WIDTH,
    ) -> Response:
        """Return the page rendered by pdfium, `width` pixels wide."""
        with _answers(), _index() as connection:
            png = page_image(connection, files.path, book_id, page, width)
        return Response(
            png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"}
        )

    @router.get("/books/{book_id}/passage", summary="A section of a book with its passages")
    def passage(
        book_id: BookId,
        section: Annotated[
            str | None,
            Query(max_length=MAX_ID_CHARS, description="Section id; empty for the front matter"),
        ] = None,
        chunk: ChunkParam = None,
    ) -> dict:
        """Return the section's passages in order (chunk's marked), breadcrumb and neighbours;
        without `section`, the chunk's section, or the book's first."""
        with _answers(), _index() as connection:
            return passage_view(connection, book_id, section, chunk)

    @router.get("/chunks/{chunk_id}", summary="One passage and its neighbours")
    def chunk(
        chunk_id: ChunkId,
        around: Annotated[
            int, Query(ge=0, le=MAX_AROUND, description="Neighbours on each side")
        ] = 0,
    ) -> dict:
        """Return the passage with its book, section path and pages, and its neighbours."""
        with _answers(), _index() as connection:
            return chunk_view(connection, chunk_id, around)

    @router.get("/books/{book_id}/terms", summary="A book's back-of-book index terms")
    def terms(
        book_id: BookId,
        response: Response,
        prefix: Annotated[
            str | None, Query(max_length=MAX_ID_CHARS, description="Terms starting so")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_TERMS_PAGE)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[dict]:
        """Return a page of the book's index terms, alphabetically; X-Total-Count gives all."""
        with _answers(), _index() as connection:
            rows, total = book_terms(connection, book_id, prefix, limit, offset)
        response.headers["X-Total-Count"] = str(total)
        return rows

    @router.get("/library", summary="Indexed, failed and pending books")
    def library() -> dict:
        """Return the indexed books (as `GET /books`), the books whose last run failed with
        why, and the books in the bucket not indexed yet."""
        with _index() as connection:
            return library_view.view(connection)

    return router
