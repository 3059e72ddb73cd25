"""Markdown books: ATX headings become the ToC, inline markup is dropped from the clean text.

A line is a heading when it is an ATX heading (up to three spaces, one to six `#`, then a space
or the line's end) outside a fenced code block; its level is the number of `#`. Setext
underlines are not treated as headings: a `---` line after a paragraph is far more often a
rule in converted books than a heading marker. YAML front matter and headings written as
"Key: value" ("## Author: Sun Tzu") supply metadata; such headings stay in the ToC.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from hbi.extract.text_blocks import HeaderFields, TextBlock

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdown", ".mkd", ".mkdn"})

_ATX = re.compile(r"^ {0,3}(?P<hashes>#{1,6})(?=[ \t]|$)(?P<rest>.*)$")
_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})")
_THEMATIC_BREAK = re.compile(r"^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")
_BLOCK_START = re.compile(r"^ {0,3}(?:[-+*][ \t]+|\d{1,9}[.)][ \t]+|>)")
_BLOCKQUOTE = re.compile(r"^ {0,3}>[ \t]?")
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s+\S")
_FIELD = re.compile(r"^(?P<key>[A-Za-z][A-Za-z ]{0,24}):\s+(?P<value>\S.*)$")

# Inline markup. No part of a pattern may run over the delimiter that opens it (a bracket,
# parenthesis, `<`, backtick or the emphasis mark): every attempt then stops at the next
# delimiter, and a paragraph of hostile markup ("[[[[…", "`` ` ``` …") costs linear time
# instead of rescanning the rest of the paragraph from each delimiter.
_MARKUP_CHARS = re.compile(r"[*_`\[<\\]")
_IMAGE = re.compile(r"!\[([^\[\]]*)\]\([^()]*\)")
_LINK = re.compile(r"\[([^\[\]]+)\](?:\([^()]*\)|\[[^\[\]]*\])")
_AUTOLINK = re.compile(r"<((?:https?|ftp|mailto):[^<>\s]+)>")
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_CODE_SPAN = re.compile(r"(?<!`)(`++)([^`]+)\1(?!`)")
_EMPHASIS = tuple(
    re.compile(rf"(?<![\w*])({mark}{{1,3}})(?=[^\s{mark}])([^{mark}]+?)(?<=\S)\1(?![\w*])")
    for mark in (r"\*", "_")
)
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>~|])")


def is_markdown_name(name: str) -> bool:
    """Whether the object name carries a Markdown extension (only used to break ties)."""
    return PurePosixPath(name).suffix.casefold() in MARKDOWN_SUFFIXES


def has_atx_headings(lines: list[str]) -> bool:
    """Whether any line outside fenced code is an ATX heading."""
    fence: str | None = None
    for line in lines:
        if fence is not None:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence = None
        elif match := _FENCE.match(line):
            fence = match["fence"]
        elif _ATX.match(line):
            return True
    return False


def strip_inline_markup(text: str) -> str:
    """The text with emphasis, code, link and image syntax and HTML tags removed."""
    if not _MARKUP_CHARS.search(text):
        return text
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _HTML_TAG.sub("", text)
    text = _CODE_SPAN.sub(r"\2", text)
    for _ in range(3):  # nested emphasis: ***a*** or **_a_**
        for emphasis in _EMPHASIS:
            text = emphasis.sub(r"\2", text)
    return _ESCAPE.sub(r"\1", text)


def markdown_blocks(lines: list[str], fields: HeaderFields) -> list[TextBlock]:
    """The paragraphs, code blocks and headings of a Markdown document, in order."""
    blocks: list[TextBlock] = []
    paragraph_start: int | None = None
    start = _front_matter_end(lines, fields)

    def flush(end: int) -> None:
        nonlocal paragraph_start
        if paragraph_start is not None:
            raw = " ".join(_BLOCKQUOTE.sub("", line) for line in lines[paragraph_start:end])
            blocks.append(TextBlock(paragraph_start, end, strip_inline_markup(raw)))
        paragraph_start = None

    fence: str | None = None
    for i in range(start, len(lines)):
        line = lines[i]
        if fence is not None:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                flush(i + 1)
                fence = None
            continue
        if match := _FENCE.match(line):
            flush(i)
            fence, paragraph_start = match["fence"], i
            continue
        heading = _ATX.match(line)
        if heading:
            flush(i)
            title = strip_inline_markup(_atx_title(heading["rest"]))
            if field := _FIELD.match(title.strip()):
                fields.add(field["key"], field["value"])
            blocks.append(TextBlock(i, i + 1, title, len(heading["hashes"])))
        elif not line.strip() or _THEMATIC_BREAK.match(line) or _LINK_DEFINITION.match(line):
            flush(i)
        elif _BLOCK_START.match(line) and not _BLOCKQUOTE.match(line):
            flush(i)
            paragraph_start = i
        elif paragraph_start is None:
            paragraph_start = i
    # An unclosed fence runs to the end of the document, as in CommonMark.
    flush(len(lines))
    return [_code_text(block, lines) for block in blocks]


def _atx_title(rest: str) -> str:
    """The title after a heading's `#`s, without its optional closing `#`s (after a space)."""
    title = rest.strip(" \t")
    unclosed = title.rstrip("#")
    if unclosed != title and (not unclosed or unclosed[-1] in " \t"):
        return unclosed.rstrip(" \t")
    return title


def _code_text(block: TextBlock, lines: list[str]) -> TextBlock:
    """Code blocks keep their content but lose the fence lines."""
    if block.heading_level is None and _FENCE.match(lines[block.first_line]):
        body = [
            line for line in lines[block.first_line + 1 : block.end_line] if not _FENCE.match(line)
        ]
        return TextBlock(block.first_line, block.end_line, " ".join(body))
    return block


def _front_matter_end(lines: list[str], fields: HeaderFields) -> int:
    """The first line after a YAML front-matter block (0 when there is none)."""
    if not lines or lines[0].strip() != "---":
        return 0
    for i in range(1, min(len(lines), 200)):
        if lines[i].strip() in ("---", "..."):
            for line in lines[1:i]:
                if match := _FIELD.match(line.strip()):
                    fields.add(match["key"], match["value"].strip("\"'"))
            return i + 1
    return 0
