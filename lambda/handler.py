"""The Lambda functions' entry points: the S3 trigger (`handler.handler`) and the large-file state machine's three
tasks (`handler.partition`, `handler.ingest_partition`, `handler.finish`), one per function, all in one code asset.

The code lives in the engine package (`csv_ingest_engine.tasks`), so that `csv-ingest demo` runs the very same
handlers from an installed package; this file is what Lambda's layout (and the bundle) addresses. The names are
`constants.HANDLER_*`, which the stack sets as each function's handler.
"""

from csv_ingest_engine.tasks.finish import finish
from csv_ingest_engine.tasks.ingest_partition import ingest_partition
from csv_ingest_engine.tasks.partition import partition
from csv_ingest_engine.tasks.trigger import handler

__all__ = ["finish", "handler", "ingest_partition", "partition"]
