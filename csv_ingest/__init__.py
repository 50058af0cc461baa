"""csv-ingest: the CDK infrastructure (pipeline.py, stack.py) and the command line (cli.py)."""
