"""The state machine's contract: an upload's job (the execution's input and name, started once per upload), the
Map's partition items, and the results workers leave for Finish."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from csv_ingest_engine.errors import ExecutionNotStarted
from csv_ingest_engine.outcome import ObjectVersion
from csv_ingest_engine.rejection_log import LoggedRejection

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

# Step Functions' execution names: at most 80 characters of these (CloudWatch Logs takes no others).
EXECUTION_NAME_CHARS = 80

_NOT_IN_A_NAME = re.compile(r"[^A-Za-z0-9_-]+")

# 96 bits of SHA-256: two different uploads never share an execution (or its work objects).
NAME_HASH_CHARS = 24

# A Partition run's token (a UUID4's hex digits), which makes its run prefix under the execution's work prefix.
RUN_TOKEN_CHARS = 32

# A failed step's error is the execution's cause: how to ingest the file again, and which of the two ways to take.
# Step Functions' redrive restarts an execution from the state it failed in; the Map catches its partitions' failures
# (Finish counts them), so a redrive never reaches a worker: rerunning failed partitions is a new execution.
AGAIN = (
    "Rows already written stay, and ingesting again is safe: it never overwrites what a newer upload wrote. When "
    "partitions failed, rerun only those: start a new execution of the state machine with this execution's input "
    'plus "rerun": "<run prefix>" (the run prefix is named above; this works as long as the run\'s work objects '
    "live, at least 14 days after the execution ended), or with this execution's input alone to ingest the file "
    "whole (uploading it again does too, but as the newest upload, over what uploads made since wrote). "
    "`aws stepfunctions redrive-execution` helps only when Partition or Finish itself failed on an AWS-side error "
    "(such as S3 throttling or a timeout): it reruns that step alone, never a partition's worker"
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FileJob:
    """One uploaded object version going through the state machine: the execution's input (see the contract), and
    what every task's output repeats."""

    bucket: str
    key: str
    version_id: str | None
    size: int
    work_prefix: str  # "<execution name>/": every work object of this execution is under it, one run prefix each
    # The upload's order stamp, which every write carries (see `ordering`). None only in the input of an execution
    # started before uploads were ordered: its rows are then ordered as of when they are written.
    order: str | None = None
    # The CSV text's size as the trigger counted it (at least), when it read a `.csv.gz` whose size and trailer had
    # said far less (see `partitioning.one_invocation_text_limit`); Partition sizes the partitions by it. None (and
    # left out of the input): the estimate decided.
    text_bytes: int | None = None

    @classmethod
    def for_upload(
        cls,
        bucket: str,
        key: str,
        version_id: str | None,
        *,
        size: int,
        sequencer: str,
        order: str,
        text_bytes: int | None = None,
    ) -> FileJob:
        name = execution_name(bucket, key, version_id, sequencer)
        return cls(
            bucket=bucket,
            key=key,
            version_id=version_id,
            size=size,
            work_prefix=f"{name}/",
            order=order,
            text_bytes=text_bytes,
        )

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> FileJob:
        return cls(
            bucket=event_field(event, "bucket", str),
            key=event_field(event, "key", str),
            version_id=_version_id(event),
            size=event_field(event, "size", int),
            work_prefix=event_field(event, "work_prefix", str),
            order=_optional_field(event, "order", str),
            text_bytes=_optional_field(event, "text_bytes", int),
        )

    @property
    def source(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def obj(self) -> ObjectVersion:
        return ObjectVersion(self.bucket, self.key, self.version_id)

    @property
    def execution_name(self) -> str:
        return self.work_prefix.rstrip("/")

    def as_input(self) -> dict[str, Any]:
        job = asdict(self)
        if self.text_bytes is None:
            del job["text_bytes"]
        return job


@dataclass(frozen=True, slots=True)
class Started:
    execution_arn: str
    # S3 delivered the same event again (or the trigger was retried): the execution it started first is the one.
    already: bool


def execution_name(bucket: str, key: str, version_id: str | None, sequencer: str) -> str:
    """A valid execution name for one upload, the same every time S3 delivers its event: the end of the key as far as
    it is readable in a name, then a hash of the bucket, key, version and the event's sequencer (which tells two
    uploads of one key apart in a bucket without versioning)."""
    digest = hashlib.sha256(json.dumps([bucket, key, version_id, sequencer]).encode()).hexdigest()[:NAME_HASH_CHARS]
    stem = key[:-4] if key.lower().endswith(".csv") else key
    readable = _NOT_IN_A_NAME.sub("-", stem).strip("-")
    tail = readable[-(EXECUTION_NAME_CHARS - NAME_HASH_CHARS - 1) :].lstrip("-")
    return f"{tail}-{digest}" if tail else digest


def start_execution(client: SFNClient, state_machine_arn: str, job: FileJob) -> Started:
    """Start the state machine on `job`, once per upload: the name is the job's, so a second start of the same
    upload finds the first execution (Step Functions refuses a name twice) instead of starting another."""
    try:
        response = client.start_execution(
            stateMachineArn=state_machine_arn, name=job.execution_name, input=json.dumps(job.as_input())
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
            return Started(_execution_arn(state_machine_arn, job.execution_name), already=True)
        raise _not_started(job, state_machine_arn, exc) from exc
    except BotoCoreError as exc:
        raise _not_started(job, state_machine_arn, exc) from exc
    return Started(response["executionArn"], already=False)


def _execution_arn(state_machine_arn: str, name: str) -> str:
    """arn:aws:states:<region>:<account>:stateMachine:<machine> -> ...:execution:<machine>:<name>."""
    start, _, machine = state_machine_arn.partition(":stateMachine:")
    return f"{start}:execution:{machine}:{name}"


def _not_started(job: FileJob, state_machine_arn: str, exc: Exception) -> ExecutionNotStarted:
    return ExecutionNotStarted(
        job.source,
        f"the file is {job.size:,} bytes, large enough for the large-file state machine, but its execution could not "
        f"be started ({exc}); nothing was written. Check that the state machine {state_machine_arn} exists and that "
        "the function may states:StartExecution on it; the upload's event is retried, and uploading the file "
        "again is safe",
    )


def new_run_prefix(job: FileJob) -> str:
    """Where one Partition run of `job` puts its work objects (and its workers and Finish look for them)."""
    return f"{job.work_prefix}{uuid.uuid4().hex}/"


def new_attempt() -> str:
    """A token for one pass of the Map over a run (its first, or a rerun of its failed partitions)."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Run:
    """The Partition task's output (the state's `run`): where the run's work objects are, which manifest the Map
    reads its items from, and the pass it makes. Small whatever the file: the partitions are in the manifest."""

    run_prefix: str
    attempt: str  # this pass over the run: Finish's verdict is replayed only to a retry of the same pass
    items: str  # the work bucket key of the manifest the Map reads (every partition, or only the failed ones)
    rows: int  # data rows in the partitions of `items`
    partitions: int  # entries in `items`
    # For an execution input made before uploads were ordered (no `order`), the stamp the workers write with,
    # which Partition worked out from when S3 created the object version (None: the job has its own).
    order: str | None = None
    # When Partition began this pass, in milliseconds since the epoch (the state stays small), which Finish times
    # the file from (None: a run made before passes were timed).
    started_ms: int | None = None

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Run:
        run = event_field(event, "run", dict)
        return cls(
            run_prefix=event_field(run, "run_prefix", str),
            attempt=event_field(run, "attempt", str),
            items=event_field(run, "items", str),
            rows=event_field(run, "rows", int),
            partitions=event_field(run, "partitions", int),
            order=_optional_field(run, "order", str),
            started_ms=_optional_field(run, "started_ms", int),
        )

    def as_output(self) -> dict[str, Any]:
        return asdict(self)

    def seconds_since_started(self, moment: datetime) -> float | None:
        """How long before `moment` the pass began (None if unknown)."""
        return None if self.started_ms is None else moment.timestamp() - self.started_ms / 1000


def run_state(job: FileJob, run: Run) -> dict[str, Any]:
    """The execution's state after Partition (its result goes to `$.run`), as the Map and Finish read it."""
    return {**job.as_input(), "run": run.as_output()}


@dataclass(frozen=True, slots=True)
class PartitionEntry:
    """One partition of a run, an item of its manifest (a JSON list the Map reads with its ItemReader)."""

    index: int
    chunks: int
    rows: int

    @classmethod
    def from_json(cls, data: Any) -> PartitionEntry:
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        return cls(
            index=event_field(data, "index", int),
            chunks=event_field(data, "chunks", int),
            rows=event_field(data, "rows", int),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class PartitionItem:
    """A worker's event: the whole state (the job and its run, so that every field of the execution's input reaches
    the worker) and the manifest entry of its partition; the Map's ItemSelector builds it, `worker_event` here."""

    job: FileJob
    run_prefix: str  # where this Partition run's chunks are, and this worker's result and partial report go
    entry: PartitionEntry
    order: str | None = None  # the stamp to write with: the job's, or the run's for an input without one

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> PartitionItem:
        state = event_field(event, "job", dict)
        job, run = FileJob.from_event(state), Run.from_event(state)
        return cls(
            job=job,
            run_prefix=run.run_prefix,
            entry=PartitionEntry.from_json(event_field(event, "partition", dict)),
            order=job.order or run.order,
        )

    @property
    def index(self) -> int:
        return self.entry.index

    @property
    def chunks(self) -> int:
        return self.entry.chunks

    @property
    def rows(self) -> int:
        return self.entry.rows

    @property
    def source(self) -> str:
        return self.job.source


def worker_event(job: FileJob, run: Run, entry: PartitionEntry) -> dict[str, Any]:
    """What the Map's ItemSelector gives a worker: `{"job.$": "$", "partition.$": "$$.Map.Item.Value"}`."""
    return {"job": run_state(job, run), "partition": entry.as_dict()}


@dataclass(frozen=True, slots=True)
class PartitionResult:
    """What a worker did with its partition (`results/pNNNNN.json` in the work bucket, and its return value).

    `rows_rejected` counts `rows_failed` too, as on the one-invocation path; `rows_superseded` are rows whose item
    holds a newer upload's, `rows_unchanged` (`changed` mode) rows whose item holds their values already,
    `rows_deleted` rows that deleted their item. `error` says why the partition did not
    finish (None: it did); rows from `first_missing_line` on may then be missing, when it is known.
    `rejects_report` is the work bucket key of the partial rejects report, set only once it is written.
    `first_rejections` are the partition's first rejected rows (see `rejection_log`), from which Finish logs the
    file's: they are in the result object in the work bucket (with the partition's rows), never in what the worker
    returns (`summary`), which the execution's history keeps.
    """

    index: int
    rows_written: int
    rows_rejected: int
    rows_failed: int
    first_missing_line: int | None
    error: str | None
    rejects_report: str | None = None
    rows_superseded: int = 0
    first_rejections: tuple[LoggedRejection, ...] = ()
    rows_unchanged: int = 0
    rows_deleted: int = 0

    @classmethod
    def from_json(cls, data: Any) -> PartitionResult:
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        first = data.get("first_rejections") or []
        if not isinstance(first, list):
            raise ValueError(f"no valid 'first_rejections' (got {type(first).__name__})")
        return cls(
            index=event_field(data, "index", int),
            rows_written=event_field(data, "rows_written", int),
            rows_rejected=event_field(data, "rows_rejected", int),
            rows_failed=event_field(data, "rows_failed", int),
            first_missing_line=_optional_field(data, "first_missing_line", int),
            error=_optional_field(data, "error", str),
            rejects_report=_optional_field(data, "rejects_report", str),
            rows_superseded=_optional_field(data, "rows_superseded", int) or 0,
            rows_deleted=_optional_field(data, "rows_deleted", int) or 0,
            first_rejections=tuple(LoggedRejection.from_json(item) for item in first),
            rows_unchanged=_optional_field(data, "rows_unchanged", int) or 0,
        )

    def as_dict(self) -> dict[str, Any]:
        """The result object in the work bucket."""
        return asdict(self)

    def summary(self) -> dict[str, Any]:
        """What the worker returns, into the execution's history: the result without its rows' keys."""
        summary = asdict(self)
        del summary["first_rejections"]
        return summary


def event_field(data: Mapping[str, Any], name: str, kind: type[T]) -> T:
    value = data.get(name)
    if not isinstance(value, kind):
        raise ValueError(f"no valid {name!r} (got {value!r}) in {_abridged(data)}: is the state machine this code's?")
    return value


def _optional_field(data: Mapping[str, Any], name: str, kind: type[T]) -> T | None:
    return None if data.get(name) is None else event_field(data, name, kind)


def _version_id(event: Mapping[str, Any]) -> str | None:
    return _optional_field(event, "version_id", str)


def _abridged(data: Mapping[str, Any]) -> str:
    text = json.dumps(data, default=str)
    return text if len(text) <= 300 else f"{text[:300]}..."
