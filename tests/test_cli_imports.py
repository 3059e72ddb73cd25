"""Commands that only read (`hbi --help`, a lexical search) load neither Dagster nor the model.

Each command runs in a fresh interpreter, which then reports the packages it loaded. Importing
Dagster or ONNX Runtime takes seconds; benchmarks/bench_cli.py measures the time, this checks
the behaviour that keeps it short. `hbi --help` reads its table, so the table must say what
each command says of itself.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hbi.cli import COMMANDS
from hbi.index.db import connect, write_transaction
from hbi.search.query_log import QueryLog

HEAVY = {"dagster", "hbi_resources", "hbi_assets", "onnxruntime", "duckdb", "neo4j"}
# Runs `hbi ARGS…`, then prints the top-level packages the interpreter holds as a last line.
PROBE = """
import json, sys
from hbi.cli import cli
cli.main(sys.argv[1:], prog_name="hbi", standalone_mode=False)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""
PASSAGES = [
    "Alice was beginning to get very tired of sitting by her sister on the bank.",
    "Down, down, down. Would the fall never come to an end? The rabbit hole went straight on.",
    "The White Rabbit put on his spectacles and read the verses aloud to the court.",
]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An HBI_HOME whose index holds one small book."""
    connection = connect(tmp_path / "index" / "hbi.sqlite")
    with write_transaction(connection):
        connection.execute(
            "INSERT INTO books (book_id, title, authors, identifiers, format, object_key, "
            "content_hash, size_bytes, toc_derived, toc_entries, toc_depth, chunk_count, "
            "token_count, index_terms, warnings, indexed_at) VALUES "
            "('alice.txt', 'Alice', '[]', '[]', 'text', 'alice.txt', '', 0, 0, 0, 0, 3, 0, 0, "
            "'[]', '')"
        )
        for ordinal, text in enumerate(PASSAGES):
            connection.execute(
                "INSERT INTO chunks (chunk_id, book_id, ordinal, section_path, book_title, text, "
                "char_start, char_end, token_count, content_hash, is_matter) "
                "VALUES (?, 'alice.txt', ?, 'Chapter I', 'Alice', ?, 0, 0, 0, '', 0)",
                (ordinal + 1, ordinal, text),
            )
        connection.execute(
            "INSERT INTO chunks_fts (rowid, text, section_path, book_title) "
            "SELECT chunk_id, text, section_path, book_title FROM chunks"
        )
    connection.close()
    return tmp_path


def run_hbi(args: list[str], home: Path) -> tuple[str, set[str]]:
    """Return what `hbi ARGS…` printed and the top-level packages its interpreter loaded."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("HBI_") and key != "DAGSTER_HOME"
    }
    env["HBI_HOME"] = str(home)
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, *args], env=env, capture_output=True, text=True, check=True
    )
    *printed, packages = completed.stdout.splitlines()
    return "\n".join(printed), set(json.loads(packages))


def test_help_lists_every_command_without_importing_them(tmp_path: Path) -> None:
    printed, packages = run_hbi(["--help"], tmp_path)
    listed = {line.split()[0] for line in printed.split("Commands:")[1].splitlines() if line}
    assert listed == set(COMMANDS)
    assert packages & HEAVY == set()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_help_table_says_what_the_command_says(name: str) -> None:
    module, attribute, short_help = COMMANDS[name]
    command = getattr(importlib.import_module(module), attribute)
    assert command.name == name
    assert command.get_short_help_str(limit=1_000) == short_help


def test_a_lexical_search_loads_neither_dagster_nor_the_model_nor_numpy(home: Path) -> None:
    printed, packages = run_hbi(["search", "--mode", "lexical", "rabbit hole", "--json"], home)
    hits = json.loads(printed)["hits"]
    assert hits and hits[0]["book_id"] == "alice.txt"
    assert packages & (HEAVY | {"numpy"}) == set()


def test_a_search_from_the_cli_reaches_the_query_log(home: Path) -> None:
    run_hbi(["search", "--mode", "lexical", "white rabbit"], home)
    entries = QueryLog(home / "catalog" / "queries.duckdb").entries()
    assert [(e["query"], e["source"], e["mode"]) for e in entries] == [
        ("white rabbit", "cli", "lexical")
    ]
    assert entries[0]["hit_count"] > 0
