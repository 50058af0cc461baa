"""What a `load` writes with, as plain data: each worker process builds its own writer and client from it."""

from __future__ import annotations

from dataclasses import dataclass

from csv_ingest_engine.constants import WriteMode
from csv_ingest_engine.ordering import Ordering
from csv_ingest_engine.writing import TableWriter


@dataclass(frozen=True)
class WriterSettings:
    """Everything a writer is built from, as plain data: a worker process builds its own client from it."""

    table: str
    mode: WriteMode
    concurrency: int
    patience_s: float
    # The load's one stamp, in every worker process alike (None: --no-ordering).
    ordering: Ordering | None = None
    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    # --mode changed reads items back strongly consistent (--consistent-reads).
    consistent_reads: bool = False

    def writer(self) -> TableWriter:
        """A writer with a DynamoDB client of its own."""
        import boto3  # deferred: `--help` and `validate` need no AWS SDK start-up

        from csv_ingest_engine.objects import dynamodb_config

        session = boto3.Session(profile_name=self.profile, region_name=self.region)
        client = session.client("dynamodb", endpoint_url=self.endpoint_url, config=dynamodb_config(self.concurrency))
        return TableWriter(
            client,
            table_name=self.table,
            concurrency=self.concurrency,
            mode=self.mode,
            ordering=self.ordering,
            patience_s=self.patience_s,
            consistent_reads=self.consistent_reads,
        )
