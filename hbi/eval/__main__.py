"""`python -m hbi.eval beir DIR [--json]`."""

from hbi.eval.cli import main

main()
