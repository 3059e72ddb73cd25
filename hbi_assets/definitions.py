"""The single Definitions entry point of HBI's code location."""

import dagster as dg

from hbi.config import load_stack_env
from hbi_assets.backups import (
    full_backup_job,
    library_backup,
    newest_full_backup_verifies,
    nightly_backup,
)
from hbi_assets.books import book_assets, ingest_book_job
from hbi_assets.checks import asset_checks
from hbi_assets.index import index_matches_library, search_index
from hbi_assets.library import (
    index_maintenance,
    index_maintenance_job,
    library_catalog,
    refresh_index_job,
    remove_books_job,
    search_analytics,
    weekly_maintenance,
)
from hbi_assets.resources import env_resources
from hbi_assets.run_logs import run_loggers
from hbi_assets.sensors import automation_sensor, books_bucket_sensor

# Connection variables the user did not set come from the local stack's env file, so
# `dagster dev -w workspace.yaml` works after `hbi stack up` without any exports.
load_stack_env()
# With HBI_LOG_FORMAT=json, a run's events go out as JSON lines through Dagster's own JSON logger
# (run_logs.py); HBI's Python log records in the run's process go through hbi.logs (configured by
# this package).
RUN_LOGGERS = run_loggers()

defs = dg.Definitions(
    assets=[
        *book_assets,
        search_index,
        library_catalog,
        library_backup,
        index_maintenance,
        search_analytics,
    ],
    asset_checks=[*asset_checks, index_matches_library, newest_full_backup_verifies],
    jobs=[
        ingest_book_job,
        remove_books_job,
        refresh_index_job,
        index_maintenance_job,
        full_backup_job,
    ],
    sensors=[books_bucket_sensor, automation_sensor],
    schedules=[nightly_backup, weekly_maintenance],
    resources=env_resources(),
    loggers=RUN_LOGGERS,
    # Every run is one book or one projection: its steps are short and mostly wait on each
    # other, while a step process costs ~8 s of Python and Dagster start-up on 2 cores. Runs,
    # not steps, are what goes in parallel (max_concurrent_runs), and pools still hold.
    executor=dg.in_process_executor,
)
