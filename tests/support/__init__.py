"""The tests' doubles, in one place.

- the fake Lambda context and the S3 event builder: the emulator's own (`csv_ingest.local.events`), re-exported here;
- `Aws`: the account the function's tests work in (S3 in moto, in-process; DynamoDB in moto or dynalite);
- `Endpoint` and `MotoServer`: the command line's AWS over loopback HTTP;
- `Dynalite` and the `DynamoDBBackend` a test runs against;
- `StubServer`: the stub DynamoDB endpoint the benchmark uses (throttling, latency), kept in benchmarks/.
- `tests.support.large_files`: the large-file state machine in moto, and a file sent through it.
"""

from stub_dynamodb import StubServer

from csv_ingest.local.events import DemoContext, object_created_event, s3_record
from tests.support.account import BUCKET, KEY_COLUMN, REJECTS_BUCKET, SAMPLES, Aws, reset_moto
from tests.support.dynamodb import DYNAMODB_BACKENDS, Dynalite, DynamoDBBackend, create_table
from tests.support.logs import emf_metrics, json_logs
from tests.support.moto_server import Endpoint, MotoServer

__all__ = [
    "BUCKET",
    "DYNAMODB_BACKENDS",
    "KEY_COLUMN",
    "REJECTS_BUCKET",
    "SAMPLES",
    "Aws",
    "DemoContext",
    "Dynalite",
    "DynamoDBBackend",
    "Endpoint",
    "MotoServer",
    "StubServer",
    "create_table",
    "emf_metrics",
    "json_logs",
    "object_created_event",
    "reset_moto",
    "s3_record",
]
