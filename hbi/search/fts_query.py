"""Turn any user string into a safe FTS5 MATCH expression, keeping the syntax users expect.

What a user may write:

- words: `time machine` finds passages with any of the words, BM25 ranking those with more of
  them (and rarer ones) higher;
- phrases: `"time machine"` (an unbalanced quote runs to the end of the input);
- prefixes: `mach*`;
- boolean words in capitals between two operands: `war AND strategy`, `holmes NOT watson`,
  `alice OR rabbit`.

Every operand reaches FTS5 as a double-quoted string (embedded quotes doubled), so nothing else
in the input is FTS5 syntax: column filters (`title:x`), `NEAR`, `^`, `+`, parentheses, stray
`*` and operators in the wrong place are plain text or separators. An operator word without an
operand on both sides is searched as a word. Operands the FTS5 tokenizer finds no token in
(emoji, punctuation) are dropped, so they cannot empty an `AND`. Input is capped at
`MAX_QUERY_CHARS` characters and `MAX_OPERANDS` operands, so a huge paste stays cheap.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from hbi.index.unsegmented import unsegmented_runs

MAX_QUERY_CHARS = 1_000
MAX_OPERANDS = 32
MAX_PHRASE_CHARS = 300
OPERATORS = ("AND", "OR", "NOT")

# A word keeps inner hyphens, apostrophes and dots ("800-88", "don't", "U.S"): FTS5 then sees
# it as a phrase of its tokens, which is what the user typed.
_SCAN = re.compile(
    r'"(?P<phrase>[^"]*)(?:"|$)'
    r"|(?P<word>\w+(?:[-'’.]\w+)*)(?P<star>\*?)",
    re.UNICODE,
)
# Fallback test for "does FTS5 see a token here" when no tokenizer is given: unicode61 keeps
# letters and digits and splits on everything else, including the underscore.
_TOKEN_CHAR = re.compile(r"[^\W_]", re.UNICODE)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

OperandKind = Literal["word", "phrase", "prefix"]


@dataclass(frozen=True)
class Operand:
    """One searchable unit of a query: a word, a quoted phrase, or a prefix (`mach*`)."""

    text: str
    kind: OperandKind
    negated: bool = False  # follows NOT: passages with it are excluded

    def fts5(self) -> str:
        """Return the operand as an FTS5 string, quoted so its text is never syntax."""
        quoted = '"' + self.text.replace('"', '""') + '"'
        return quoted + "*" if self.kind == "prefix" else quoted


@dataclass(frozen=True)
class ParsedQuery:
    """A user query as operands joined by operators ('OR' where the user wrote none)."""

    operands: tuple[Operand, ...]
    operators: tuple[str, ...]  # operators[i] joins operands[i] and operands[i + 1]

    def expression(self) -> str | None:
        """Return the FTS5 MATCH expression, or None when nothing searchable is left."""
        if not self.operands:
            return None
        parts = [self.operands[0].fts5()]
        for operator, operand in zip(self.operators, self.operands[1:], strict=True):
            parts.append(f"{operator} {operand.fts5()}")
        return " ".join(parts)

    def unsegmented_expression(self) -> str | None:
        """Return the MATCH expression of the query's Chinese, Japanese, Thai… words for the
        bigram table `chunks_cjk`, or None when the query has none (hbi.index.unsegmented).

        Each run of such characters in an operand is a phrase (its bigrams at consecutive
        positions); an operand's runs must all be present. The user's operators apply when
        every operand has such a run; otherwise the runs of the operands not excluded by NOT
        are alternatives, and the word index answers the rest of the query.
        """
        forms = [_unsegmented_form(operand.text) for operand in self.operands]
        if not any(forms):
            return None
        if all(forms):
            parts = [forms[0]]
            for operator, form in zip(self.operators, forms[1:], strict=True):
                parts.append(f"{operator} {form}")
            return " ".join(parts)
        wanted = [f for f, o in zip(forms, self.operands, strict=True) if f and not o.negated]
        return " OR ".join(wanted) or None

    @property
    def highlight_terms(self) -> list[Operand]:
        """Return the operands a snippet should mark (everything not excluded by NOT)."""
        return [o for o in self.operands if not o.negated]

    def plain_words(self) -> list[str] | None:
        """Return the words of a bag-of-words query (only words, only OR), else None.

        Such a query's ranking is a sum over its words, which lets the search plan treat very
        common words separately; any phrase, prefix, AND or NOT needs FTS5 to evaluate it whole.
        """
        if any(o.kind != "word" for o in self.operands) or any(op != "OR" for op in self.operators):
            return None
        return [o.text for o in self.operands]


def parse_query(query: str, has_token: Callable[[str], bool] | None = None) -> ParsedQuery:
    """Return the query's operands and operators; any string is accepted.

    `has_token(text)` says whether FTS5's tokenizer finds a token in text (default: whether text
    holds a letter or digit, which is what unicode61 indexes).
    """
    has_token = has_token or (lambda text: bool(_TOKEN_CHAR.search(text)))
    items: list[Operand | str] = []  # operands, and operator words as str
    for match in _SCAN.finditer(clean_query_text(query)):
        if match.group("phrase") is not None:
            text = " ".join(match.group("phrase").split())[:MAX_PHRASE_CHARS]
            items.append(Operand(text, "phrase"))
        elif match.group("word") in OPERATORS and not match.group("star"):
            items.append(match.group("word"))
        else:
            kind: OperandKind = "prefix" if match.group("star") else "word"
            items.append(Operand(match.group("word")[:MAX_PHRASE_CHARS], kind))
    items = [item for item in items if isinstance(item, str) or has_token(item.text)]
    operands: list[Operand] = []
    operators: list[str] = []
    run: list[str] = []  # operator words seen since the last operand
    for item in items:
        if isinstance(item, str):
            run.append(item)
            continue
        if len(operands) >= MAX_OPERANDS:
            break
        if operands:
            operator = _join(run)
            operators.append(operator)
            item = Operand(item.text, item.kind, negated=operator == "NOT")
        else:  # operators before the first operand are words
            for word in run[: MAX_OPERANDS - 1]:
                operands.append(Operand(word, "word"))
                operators.append("OR")
        operands.append(item)
        run = []
    # Operators after the last operand are words too.
    for word in run:
        if len(operands) >= MAX_OPERANDS:
            break
        if operands:
            operators.append("OR")
        operands.append(Operand(word, "word"))
    return ParsedQuery(tuple(operands), tuple(operators))


def clean_query_text(query: str) -> str:
    """Return query cut to MAX_QUERY_CHARS, without control characters or lone surrogates.

    SQLite reads a bound string up to a NUL, and a lone surrogate cannot be UTF-8 encoded.
    """
    text = query[:MAX_QUERY_CHARS].encode("utf-8", "ignore").decode("utf-8")
    return _CONTROL.sub(" ", text)


def _unsegmented_form(text: str) -> str | None:
    """Return the bigram-table form of an operand: its unsegmented runs, all required."""
    runs = unsegmented_runs(text)
    if not runs:
        return None
    phrases = " AND ".join(f'"{run}"' for run in runs)
    return f"({phrases})" if len(runs) > 1 else phrases


def _join(run: list[str]) -> str:
    """Return the operator between two operands from the operator words typed between them."""
    if not run:
        return "OR"
    # "a AND NOT b" means a NOT b; otherwise AND beats OR.
    return "NOT" if "NOT" in run else "AND" if "AND" in run else "OR"


def match_expression(query: str) -> str | None:
    """Return an FTS5 MATCH expression for query, or None if it holds no searchable word."""
    return parse_query(query).expression()
