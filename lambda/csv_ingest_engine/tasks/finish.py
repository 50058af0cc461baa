"""The "Finish" task: the file's verdict from its partitions' results (see `finishing`), its metrics and its
published outcome."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from csv_ingest_engine.clients import s3_client
from csv_ingest_engine.constants import PATH_STATE_MACHINE
from csv_ingest_engine.errors import IngestError
from csv_ingest_engine.finishing import finish_file
from csv_ingest_engine.jobs import FileJob, Run
from csv_ingest_engine.ordering import now
from csv_ingest_engine.outcome import FileOutcome
from csv_ingest_engine.outcome_publishing import publish_outcome
from csv_ingest_engine.run_objects import read_verdict
from csv_ingest_engine.settings import FinishSettings
from csv_ingest_engine.telemetry import count_ingested, counted_failure, file_context, logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def finish(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Return the file's summary; raise `IngestError` (the execution fails) naming the object if any partition did
    not report, failed, or left rows unwritten; either way, publish the file's outcome (tags and event, see
    `outcome`). Run again on the same pass (a retry whose first answer was lost, a redrive), it gives the first
    verdict again and publishes nothing: neither metrics nor outcome."""
    settings = FinishSettings.from_env()
    job = FileJob.from_event(event)
    run = Run.from_event(event)
    with file_context(job.execution_name, job.bucket, job.key, job.version_id, run_prefix=run.run_prefix):
        s3 = s3_client()
        earlier = read_verdict(s3, settings.work_bucket, run.run_prefix, source=job.source)
        # The same pass (a retry, a redrive) answers as it did; so does any pass once the run is in (a redrive of
        # the first, failed pass after a rerun of its failed partitions went through): the file is not failed again.
        if earlier is not None and (earlier.attempt == run.attempt or earlier.ingested):
            logger.info("finished before: the same verdict, counted once", extra={"ingested": earlier.ingested})
            return earlier.outcome(job.source)
        try:
            with counted_failure():
                summary = finish_file(s3, job, run, settings)
        except IngestError as error:
            publish_outcome(FileOutcome.failed(job.obj, error, **_timing(job, run)))
            raise
        logger.info("file ingested", extra={"summary": summary})
        publish_outcome(FileOutcome.ingested(job.obj, summary, **_timing(job, run)))
    count_ingested(summary, deleting=settings.engine.schema.delete_column is not None)
    return summary


def _timing(job: FileJob, run: Run) -> dict[str, Any]:
    """The outcome's path, and how long the pass took since Partition began it."""
    return {
        "path": PATH_STATE_MACHINE,
        "seconds": run.seconds_since_started(now()),
        "execution_name": job.execution_name,
    }
