"""A rerun of a failed run's partitions: an execution whose input names the run (`"rerun": "<run prefix>"`) skips
partitioning and points the Map at the failed-partitions manifest Finish left; the chunks are the run's own."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from csv_ingest_engine.errors import IngestError
from csv_ingest_engine.jobs import RUN_TOKEN_CHARS, FileJob, Run, new_attempt
from csv_ingest_engine.partitioning import failed_manifest_key, manifest_key
from csv_ingest_engine.run_objects import read_manifest, read_verdict

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# The input field that names the run to rerun.
RERUN_FIELD = "rerun"

_RUN_TOKEN = re.compile(f"[0-9a-f]{{{RUN_TOKEN_CHARS}}}/")

_FRESH = (
    'start an execution with the input but without "rerun" to ingest the whole file (uploading it again does too, '
    "but as the newest upload)"
)


def resume_run(s3: S3Client, job: FileJob, run_prefix: str, *, work_bucket: str) -> Run:
    """The run under `run_prefix` with only its failed partitions as the Map's items; raises `IngestError` saying
    why not (another file's run, one that was ingested, or one whose work objects are gone)."""
    token = run_prefix.removeprefix(job.work_prefix)
    if token == run_prefix or not _RUN_TOKEN.fullmatch(token):
        raise IngestError(
            job.source,
            f"the input asks to rerun {run_prefix!r}, which is not a run of this execution's file: a run prefix is "
            f"{job.work_prefix!r} and a 32-digit token, as the failed execution's error names it. Use the failed "
            f"execution's own input, or {_FRESH}",
        )
    where = f"s3://{work_bucket}/{run_prefix}"
    verdict = read_verdict(s3, work_bucket, run_prefix, source=job.source)
    if verdict is not None and verdict.ingested:
        raise IngestError(job.source, f"the run {where} was ingested already: nothing to rerun; {_FRESH}")
    failed = read_manifest(s3, work_bucket, failed_manifest_key(run_prefix), source=job.source)
    # Chunks are as old as the full manifest (written with them): without it they may be gone too.
    whole = read_manifest(s3, work_bucket, manifest_key(run_prefix), source=job.source) if failed is not None else None
    if failed is None or whole is None:
        raise IngestError(
            job.source,
            f"there is no failed run at {where} to rerun: no such run, its Finish did not record failed partitions "
            f"(if Finish itself failed, redrive that execution), or its work objects expired; {_FRESH}",
        )
    return Run(
        run_prefix,
        new_attempt(),
        failed_manifest_key(run_prefix),
        rows=sum(entry.rows for entry in failed),
        partitions=len(failed),
    )
