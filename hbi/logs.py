"""How HBI writes log lines: text by default, or one JSON object a line with HBI_LOG_FORMAT=json.

JSON lines are for a log store (Loki, Elasticsearch, journald with a JSON parser): every line the
API, the CLI and Dagster runs write to stderr is then an object with `time`, `level`, `logger` and
`message`, and the fields a record carries (the API's request lines: request id, route, status…).
Text mode changes nothing: records go wherever they went before HBI_LOG_FORMAT existed.
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
import sys
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime

LOG_FORMAT_ENV = "HBI_LOG_FORMAT"
LOG_FORMATS = ("text", "json")
# Loggers whose INFO records are worth a line in JSON mode (the API's request log); every other
# library logs at WARNING and above, as Python does by default.
HBI_LOGGER = "hbi"
CLI_LOGGER = "hbi.cli"
# The attributes every LogRecord has; anything else on a record came from `extra=` and is a field.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# uvicorn adds an ANSI-coloured copy of its message to each record, useless in JSON.
_DROPPED_ATTRIBUTES = frozenset({"color_message"})


class LogFormatError(ValueError):
    """HBI_LOG_FORMAT holds something other than `text` or `json`."""


def log_format(environ: Mapping[str, str] = os.environ) -> str:
    """Return the log format HBI_LOG_FORMAT asks for: `text` (unset or empty) or `json`."""
    value = environ.get(LOG_FORMAT_ENV, "").strip().lower() or "text"
    if value not in LOG_FORMATS:
        raise LogFormatError(
            f"{LOG_FORMAT_ENV}={environ[LOG_FORMAT_ENV]!r} is not a log format: "
            f"expected one of {', '.join(LOG_FORMATS)}"
        )
    return value


def json_logs() -> bool:
    """Return whether log lines are JSON (HBI_LOG_FORMAT=json)."""
    return log_format() == "json"


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON: time, level, logger, message, then its own fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in _DROPPED_ATTRIBUTES:
                entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.stack_info:
            entry["stack"] = record.stack_info
        # default=str: a field that JSON cannot hold (a path, an exception) becomes its text.
        return json.dumps(entry, ensure_ascii=False, default=str)


def _json_handler() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    return handler


def configure() -> None:
    """In JSON mode, write every Python log record and warning to stderr as JSON; else nothing.

    Raises LogFormatError for a malformed HBI_LOG_FORMAT, so a process fails before it starts.
    """
    if not json_logs():
        return
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]:
        root.removeHandler(handler)
    root.addHandler(_json_handler())
    logging.getLogger(HBI_LOGGER).setLevel(logging.INFO)
    # Python's warnings (deprecations from libraries) otherwise print as two lines of text.
    logging.captureWarnings(True)


def uvicorn_log_config() -> dict | None:
    """Return uvicorn's `log_config` in JSON mode (its loggers through JsonFormatter), else None
    for uvicorn's own text format."""
    if not json_logs():
        return None
    json_out = {"handlers": ["json"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "json": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {"uvicorn.error": json_out, "uvicorn.access": json_out},
    }


def echo(message: str, *, err: bool = False, level: int = logging.INFO, **fields: object) -> None:
    """Tell the person running a command something: the line as it is in text mode (on stdout,
    or stderr with err), a JSON record on stderr at level, with fields, in JSON mode."""
    if json_logs():
        logging.getLogger(CLI_LOGGER).log(level, message, extra=fields)
        return
    print(message, file=sys.stderr if err else sys.stdout, flush=True)
