"""HBI's Dagster code location: assets, checks, sensors, schedules and the one Definitions."""

from hbi import logs

# First, before the asset modules: with HBI_LOG_FORMAT=json, what they log or warn while being
# imported (Dagster's notes on preview APIs) is a JSON line too.
logs.configure()
