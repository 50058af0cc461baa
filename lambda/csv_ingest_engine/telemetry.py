"""What every function tells CloudWatch: one JSON logger and one metrics set (Powertools), a file's context on every
log line, and the counts of a file that went in or failed, written once for the trigger and the three tasks.

Powertools reads the service name and metrics namespace from POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE,
which the stack (and the demo and the tests) set.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from csv_ingest_engine.constants import (
    DEADLINE_MARGIN_MS,
    METRIC_FILES_FAILED,
    METRIC_FILES_PROCESSED,
    METRIC_ROWS_DELETED,
    METRIC_ROWS_REJECTED,
    METRIC_ROWS_SUPERSEDED,
    METRIC_ROWS_UNCHANGED,
    METRIC_ROWS_WRITTEN,
)
from csv_ingest_engine.errors import IngestError
from csv_ingest_engine.rejection_log import LoggedRejection

logger = Logger()
metrics = Metrics()


def deadline(context: LambdaContext) -> Callable[[], bool]:
    """True once the invocation is within DEADLINE_MARGIN_MS of its timeout: time to stop and report."""

    def should_stop() -> bool:
        return context.get_remaining_time_in_millis() < DEADLINE_MARGIN_MS

    return should_stop


@contextlib.contextmanager
def file_context(correlation_id: str, bucket: str, key: str, version_id: str | None, **extra: Any) -> Iterator[None]:
    """The object's bucket, key and version on every log line, and `correlation_id` (S3's request id, or the
    execution's name, so that the logs of all the tasks of one file read together)."""
    logger.set_correlation_id(correlation_id)
    with logger.append_context_keys(bucket=bucket, object_key=key, version_id=version_id, **extra):
        yield


@contextlib.contextmanager
def counted_failure() -> Iterator[None]:
    """A file that fails as a whole (`IngestError`) is logged with its error and counted in FilesFailed; the error
    goes on."""
    try:
        yield
    except IngestError as error:
        logger.error("file failed", extra={"error": str(error)})
        metrics.add_metric(name=METRIC_FILES_FAILED, unit=MetricUnit.Count, value=1)
        raise


def count_ingested(summary: Mapping[str, Any], *, deleting: bool) -> None:
    """A file that went in, from its summary: FilesProcessed, RowsWritten, RowsRejected, RowsSuperseded (rows whose
    item holds a newer upload's), RowsUnchanged (`changed` mode: rows whose item holds their values already; Finish
    is not told the write mode, so every function publishes it) and, where a delete-marker column is set
    (`deleting`), RowsDeleted (rows that deleted their item): a deployment without one publishes no metric that
    could only ever be zero (each custom metric is billed)."""
    metrics.add_metric(name=METRIC_FILES_PROCESSED, unit=MetricUnit.Count, value=1)
    optional = {"rows_deleted": deleting}
    for name, metric in _ROW_METRICS.items():
        if optional.get(name, True):
            metrics.add_metric(name=metric, unit=MetricUnit.Count, value=summary[name])


_ROW_METRICS = {
    "rows_written": METRIC_ROWS_WRITTEN,
    "rows_rejected": METRIC_ROWS_REJECTED,
    "rows_superseded": METRIC_ROWS_SUPERSEDED,
    "rows_unchanged": METRIC_ROWS_UNCHANGED,
    "rows_deleted": METRIC_ROWS_DELETED,
}


def log_rejections(first: Sequence[LoggedRejection], rows_rejected: int, report_uri: str | None) -> None:
    """A file's first rejected rows (line, key and a reason that quotes no cell), a line each, then one line with how
    many there were and where the report is: a file's log is as long for 20 rejected rows as for millions."""
    for rejection in first:
        logger.warning("row rejected", extra=rejection.as_dict())
    if rows_rejected:
        # "rejected rows reported" is what an operator searches for (RejectedRowsAlarm's description says so).
        message = "rejected rows reported" if report_uri else "rejected rows not reported"
        logger.warning(
            message,
            extra={"rows_rejected": rows_rejected, "rows_logged": len(first), "rejects_report": report_uri},
        )
