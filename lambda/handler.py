"""The Lambda function's entry point (handler setting `handler.handler`): the engine's S3-event handler.

The code lives in `csv_ingest_engine.function`, so that `csv-ingest demo` runs the very same handler from an
installed package; this file is what Lambda's layout (and the bundle) addresses.
"""

from csv_ingest_engine.function import handler

__all__ = ["handler"]
