"""Reading an EPUB's ZIP container defensively: bounded sizes, no path escapes, no symlinks.

Every limit is checked against the ZIP directory before anything is inflated (entry count,
total and per-entry size, compression ratio of each entry and of the whole archive), and reads
are bounded again in case the directory lies; the documents that are parsed have a tighter
size limit of their own, one by one and together. Entries whose names contain `..`, are
absolute, or carry symlink mode bits are never read; asking for one raises CorruptBookError,
their mere presence is only a warning.
"""

from __future__ import annotations

import io
import posixpath
import re
import stat
import struct
import zipfile
import zlib
from urllib.parse import unquote

from hbi.errors import BookTooLargeError, CorruptBookError, EncryptedBookError
from hbi.extract.limits import ExtractLimits

_DRIVE = re.compile(r"^[A-Za-z]:")
# The end-of-central-directory record sits in the last 22 bytes plus an optional comment.
_EOCD_SEARCH = 22 + 0xFFFF


class MissingEntryError(LookupError):
    """The archive has no entry at the path asked for."""


def resolve_href(base_dir: str, href: str) -> tuple[str, str]:
    """The archive path and fragment an href (relative to `base_dir`) points at.

    The path may start with "../" or "/" when the href escapes the archive; reading it then
    raises CorruptBookError.
    """
    target, _, fragment = href.partition("#")
    target = unquote(target.strip())
    if not target:
        return "", unquote(fragment)
    if target.startswith("/"):
        return "/" + posixpath.normpath(target).lstrip("/"), unquote(fragment)
    joined = posixpath.normpath(posixpath.join(base_dir, target))
    return joined, unquote(fragment)


class EpubArchive:
    """The safe entries of an EPUB's ZIP archive, readable by path within the limits."""

    def __init__(self, data: bytes, book: str, limits: ExtractLimits):
        self.book = book
        self.warnings: list[str] = []
        self._limits = limits
        self._read_total = 0
        declared = _declared_entry_count(data)
        if declared is not None and declared > limits.max_zip_entries:
            raise BookTooLargeError(
                book, f"EPUB has {declared:,} entries; the limit is {limits.max_zip_entries:,}"
            )
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, ValueError, OSError) as exc:
            raise CorruptBookError(book, f"EPUB archive is unreadable ({exc})") from exc
        if len(infos) > limits.max_zip_entries:
            raise BookTooLargeError(
                book, f"EPUB has {len(infos):,} entries; the limit is {limits.max_zip_entries:,}"
            )
        self._entries: dict[str, zipfile.ZipInfo] = {}
        self._unsafe: set[str] = set()
        for info in infos:
            self._check_bomb(info)
            name = info.filename.replace("\\", "/")
            if _is_unsafe(info, name):
                self._unsafe.add(posixpath.normpath(name))
                self.warnings.append(f"ignored unsafe archive entry {info.filename!r}")
            elif not info.is_dir():
                self._entries.setdefault(posixpath.normpath(name), info)
        self._check_total(infos)
        self._folded = {name.casefold(): name for name in self._entries}

    def names(self) -> list[str]:
        """The paths of all safe entries."""
        return list(self._entries)

    def read(self, path: str) -> bytes:
        """The inflated bytes of the entry at `path`; raises MissingEntryError if absent."""
        if _escapes(path) or posixpath.normpath(path) in self._unsafe:
            raise CorruptBookError(self.book, f"EPUB refers to unsafe archive path {path!r}")
        info = self._lookup(path)
        if info is None:
            raise MissingEntryError(path)
        if info.file_size > self._limits.max_document_bytes:
            raise BookTooLargeError(
                self.book,
                f"archive entry {path!r} inflates to {info.file_size:,} bytes; the limit for "
                f"a document to parse is {self._limits.max_document_bytes:,}",
            )
        limit = min(info.file_size, self._limits.max_document_bytes)
        try:
            with self._zip.open(info) as member:
                content = member.read(limit + 1)
        except RuntimeError as exc:  # zipfile's signal for a password-protected entry
            raise EncryptedBookError(self.book, f"archive entry {path!r} is encrypted") from exc
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError) as exc:
            raise CorruptBookError(self.book, f"archive entry {path!r} is damaged ({exc})") from exc
        if len(content) > limit:
            raise BookTooLargeError(self.book, f"archive entry {path!r} inflates past its size")
        self._read_total += len(content)
        if self._read_total > self._limits.max_documents_total_bytes:
            raise BookTooLargeError(
                self.book,
                f"EPUB documents to parse exceed {self._limits.max_documents_total_bytes:,} bytes",
            )
        return content

    def _lookup(self, path: str) -> zipfile.ZipInfo | None:
        path = posixpath.normpath(path)
        info = self._entries.get(path)
        if info is None and (folded := self._folded.get(path.casefold())):
            info = self._entries[folded]
        return info

    def _check_total(self, infos: list[zipfile.ZipInfo]) -> None:
        """Refuse an archive whose entries inflate past the total limit or ratio, before reading."""
        limits = self._limits
        total = sum(info.file_size for info in infos)
        if total > limits.max_zip_total_bytes:
            raise BookTooLargeError(
                self.book,
                f"EPUB inflates to {total:,} bytes; the limit is {limits.max_zip_total_bytes:,}",
            )
        ratio = total / max(sum(info.compress_size for info in infos), 1)
        if total >= limits.zip_ratio_min_bytes and ratio > limits.max_zip_ratio:
            raise BookTooLargeError(
                self.book,
                f"EPUB has compression ratio {ratio:,.0f}:1 over all its entries "
                f"(limit {limits.max_zip_ratio:,.0f}:1), a zip bomb",
            )

    def _check_bomb(self, info: zipfile.ZipInfo) -> None:
        limits = self._limits
        if info.file_size > limits.max_zip_entry_bytes:
            raise BookTooLargeError(
                self.book,
                f"archive entry {info.filename!r} inflates to {info.file_size:,} bytes; "
                f"the limit is {limits.max_zip_entry_bytes:,}",
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size >= limits.zip_ratio_min_bytes and ratio > limits.max_zip_ratio:
            raise BookTooLargeError(
                self.book,
                f"archive entry {info.filename!r} has compression ratio {ratio:,.0f}:1 "
                f"(limit {limits.max_zip_ratio:,.0f}:1), a zip bomb",
            )


def _declared_entry_count(data: bytes) -> int | None:
    """The entry count the end-of-central-directory record states (None if there is none).

    Read before zipfile builds one object per entry, millions of them in a hostile archive.
    """
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - _EOCD_SEARCH))
    if end < 0 or end + 22 > len(data):
        return None
    (count,) = struct.unpack_from("<H", data, end + 10)
    locator = end - 20
    if count == 0xFFFF and locator >= 0 and data.startswith(b"PK\x06\x07", locator):
        (record,) = struct.unpack_from("<Q", data, locator + 8)
        if data.startswith(b"PK\x06\x06", record) and record + 56 <= len(data):
            (count,) = struct.unpack_from("<Q", data, record + 32)
    return count


def _escapes(path: str) -> bool:
    return (
        path.startswith("/") or path == ".." or path.startswith("../") or bool(_DRIVE.match(path))
    )


def _is_unsafe(info: zipfile.ZipInfo, name: str) -> bool:
    parts = name.split("/")
    is_symlink = stat.S_ISLNK(info.external_attr >> 16)
    return is_symlink or ".." in parts or name.startswith("/") or bool(_DRIVE.match(name))
