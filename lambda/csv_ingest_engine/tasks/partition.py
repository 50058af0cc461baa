"""The "Partition" task: cut the uploaded object into key partitions in the work bucket (see `splitting`), or, for a
rerun, point the Map at a failed run's failed partitions (see `reruns`). A file that fails as a whole here ends the
execution before Finish: its outcome is published here."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from csv_ingest_engine.clients import s3_client
from csv_ingest_engine.constants import PATH_STATE_MACHINE
from csv_ingest_engine.errors import IngestError
from csv_ingest_engine.jobs import FileJob, Run, event_field, new_run_prefix
from csv_ingest_engine.objects import created_at
from csv_ingest_engine.ordering import now, stamp
from csv_ingest_engine.outcome import FileOutcome
from csv_ingest_engine.outcome_publishing import publish_outcome
from csv_ingest_engine.reruns import RERUN_FIELD, resume_run
from csv_ingest_engine.settings import PartitionSettings
from csv_ingest_engine.splitting import partition_file
from csv_ingest_engine.telemetry import counted_failure, deadline, file_context, logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def partition(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Return the run (`jobs.Run`: its prefix, the manifest of the Map's items, their rows), which the state machine
    keeps at `$.run`. Raises `IngestError` for a file that fails as a whole, or a rerun that cannot be made."""
    started = now()
    settings = PartitionSettings.from_env()
    job = FileJob.from_event(event)
    rerun = event.get(RERUN_FIELD)
    run_prefix = event_field(event, RERUN_FIELD, str) if rerun is not None else new_run_prefix(job)
    with file_context(job.execution_name, job.bucket, job.key, job.version_id, run_prefix=run_prefix):
        if rerun is not None:
            # A rerun refused (a run that was ingested, or is gone) is no failed file: FilesFailed stays as it was,
            # and no outcome is published.
            run = resume_run(s3_client(), job, run_prefix, work_bucket=settings.work_bucket)
        else:
            run = _partition(job, settings, run_prefix, context, started)
        message = "failed partitions to rerun" if rerun is not None else "file partitioned"
        logger.info(message, extra={"rows": run.rows, "partitions": run.partitions})
        if job.order is None:  # the workers write with the job's own otherwise
            run = replace(run, order=_order_of_unordered_input(job))
    return replace(run, started_ms=int(started.timestamp() * 1000)).as_output()


def _partition(
    job: FileJob, settings: PartitionSettings, run_prefix: str, context: LambdaContext, started: datetime
) -> Run:
    """Partition the file; a file that fails as a whole (`IngestError`) is counted, and its outcome published."""
    try:
        with counted_failure():
            return partition_file(s3_client(), job, settings, run_prefix=run_prefix, should_stop=deadline(context))
    except IngestError as error:
        seconds = (now() - started).total_seconds()
        outcome = FileOutcome.failed(
            job.obj, error, path=PATH_STATE_MACHINE, seconds=seconds, execution_name=job.execution_name
        )
        publish_outcome(outcome)
        raise


def _order_of_unordered_input(job: FileJob) -> str:
    """The stamp for an execution input made before uploads were ordered (no `order`: one started then, redriven
    or started again with its input): when S3 created the object version, so that its rows do not overwrite what
    newer uploads wrote since (now, if S3 cannot say)."""
    moment = created_at(s3_client(), job.bucket, job.key, job.version_id)
    logger.warning(
        "the execution's input has no upload order (it was made before uploads were ordered): its rows are ordered "
        "as of when S3 created the object",
        extra={"object_created": moment.isoformat() if moment else None},
    )
    return stamp(moment or now())
