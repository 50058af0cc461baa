"""The `csv-ingest` command line (the console script's `main`): load, validate and demo, on the Lambda's own engine."""

from csv_ingest.cli.commands import SAMPLE_GOOD, main

__all__ = ["SAMPLE_GOOD", "main"]
