"""`python -m hbi.eval beir DIR [--json [--per-query]] [--seed N]`."""

from hbi.eval.cli import main

main()
