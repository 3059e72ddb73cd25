"""How a run's events reach its process's output: as JSON lines when HBI_LOG_FORMAT=json.

Dagster builds a job's loggers only in runs whose run config names them; a run whose config
names none gets Dagster's coloured console logger, whatever the Definitions declare. So the
sensor's and the schedules' run requests name the `console` logger, which the Definitions map
to Dagster's `json_console_logger` in JSON mode. Runs that declarative automation launches
carry no run config of HBI's and keep the default logger; their events are in Dagster's event
log either way.
"""

from __future__ import annotations

import dagster as dg

from hbi import logs


def run_loggers() -> dict[str, dg.LoggerDefinition] | None:
    """Return the Definitions' loggers: the JSON console logger in JSON mode, else Dagster's."""
    return {"console": dg.json_console_logger} if logs.json_logs() else None


def with_run_loggers(run_config: dict | None = None) -> dict:
    """Return run_config naming the console logger in JSON mode (unchanged in text mode)."""
    config = dict(run_config or {})
    if logs.json_logs():
        config["loggers"] = {"console": {}}
    return config
