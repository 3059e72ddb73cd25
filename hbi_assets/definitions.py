"""The single Definitions entry point of HBI's code location."""

import dagster as dg

from hbi.config import load_stack_env
from hbi_assets.books import book_assets, ingest_book_job
from hbi_assets.resources import env_resources

# Connection variables the user did not set come from the local stack's env file, so
# `dagster dev -w workspace.yaml` works after `hbi stack up` without any exports.
load_stack_env()

defs = dg.Definitions(assets=book_assets, jobs=[ingest_book_job], resources=env_resources())
