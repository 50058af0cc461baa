"""The "Finish" task: the file's verdict from its partitions' results, and its metrics (see `finishing`)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from csv_ingest_engine.clients import s3_client
from csv_ingest_engine.finishing import finish_file
from csv_ingest_engine.jobs import FileJob, PartitionItem, event_field
from csv_ingest_engine.settings import FinishSettings
from csv_ingest_engine.telemetry import count_ingested, counted_failure, file_context, logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def finish(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Return the file's summary; raise `IngestError` (the execution fails) naming the object if any partition did
    not report, failed, or left rows unwritten."""
    settings = FinishSettings.from_env()
    job = FileJob.from_event(event)
    run_prefix = event_field(event, "run_prefix", str)
    entries = [PartitionItem.from_event(entry) for entry in event_field(event, "partitions", list)]
    with file_context(job.execution_name, job.bucket, job.key, job.version_id, run_prefix=run_prefix):
        with counted_failure():
            summary = finish_file(s3_client(), job, run_prefix, entries, settings)
        logger.info("file ingested", extra={"summary": summary})
    count_ingested(summary["rows_written"], summary["rows_rejected"], summary["rows_superseded"])
    return summary
