"""The CSV -> DynamoDB ingestion engine, shared by the Lambda handler and the command line.

Data travels one way: a local file -> rows (`reading`) -> updates or rejections (`rules`) -> the table (`writing`),
orchestrated by `ingest.ingest_file`.
"""

from csv_ingest_engine.errors import IngestError, IngestStopped
from csv_ingest_engine.ingest import FileResult, ingest_file
from csv_ingest_engine.rules import Rejection

__all__ = ["FileResult", "IngestError", "IngestStopped", "Rejection", "ingest_file"]
