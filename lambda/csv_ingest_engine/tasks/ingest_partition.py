"""The Map's item processor: one worker ingests one partition (see `partition_worker`)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from csv_ingest_engine.clients import dynamodb_client, s3_client
from csv_ingest_engine.jobs import PartitionItem
from csv_ingest_engine.partition_worker import ingest_one_partition
from csv_ingest_engine.settings import IngestPartitionSettings
from csv_ingest_engine.telemetry import deadline, file_context, logger


@logger.inject_lambda_context(clear_state=True)
def ingest_partition(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Ingest one partition, write its result (and partial rejects) to the work bucket, return it without its
    first rejected rows (the Map's ResultWriter puts what workers return in the work bucket, never in the execution's
    state; the execution's history keeps it). Finish logs the file's first rejected rows: a worker logs only counts.

    A partition that fails (the table refused, the deadline, a chunk that cannot be read) is a result with an
    `error`, not an exception: Finish tells the whole story. Anything unexpected propagates: the iteration fails,
    and Finish finds no result.
    """
    settings = IngestPartitionSettings.from_env()
    item = PartitionItem.from_event(event)
    job = item.job
    with file_context(
        job.execution_name,
        job.bucket,
        job.key,
        job.version_id,
        run_prefix=item.run_prefix,
        partition=item.index,
    ):
        result = ingest_one_partition(
            s3_client(),
            dynamodb_client(settings.write_concurrency),
            item,
            settings,
            should_stop=deadline(context),
        )
        counts = {
            "rows_written": result.rows_written,
            "rows_rejected": result.rows_rejected,
            "rows_superseded": result.rows_superseded,
            "rows_unchanged": result.rows_unchanged,
            "rows_deleted": result.rows_deleted,
        }
        if result.error is None:
            logger.info("partition ingested", extra=counts)
        else:
            logger.error("partition failed", extra={**counts, "error": result.error})
    return result.summary()
