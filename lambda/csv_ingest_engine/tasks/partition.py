"""The "Partition" task: cut the uploaded object into key partitions in the work bucket (see `splitting`)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from csv_ingest_engine.clients import s3_client
from csv_ingest_engine.jobs import FileJob, new_run_prefix
from csv_ingest_engine.settings import PartitionSettings
from csv_ingest_engine.splitting import partition_file
from csv_ingest_engine.telemetry import counted_failure, deadline, file_context, logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def partition(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Return the job, its row count and the partitions that have rows (the Map's items). Raises `IngestError` for a
    file that fails as a whole."""
    settings = PartitionSettings.from_env()
    job = FileJob.from_event(event)
    run_prefix = new_run_prefix(job)
    with file_context(job.execution_name, job.bucket, job.key, job.version_id, run_prefix=run_prefix):
        with counted_failure():
            output = partition_file(s3_client(), job, settings, run_prefix=run_prefix, should_stop=deadline(context))
        logger.info("file partitioned", extra={"rows": output["rows"], "partitions": len(output["partitions"])})
    return output
