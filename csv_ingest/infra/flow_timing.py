"""How long the large-file state machine's steps may take, and how long its work objects must live: the sizing rules
as arithmetic (the README's "Limits" works it through with the defaults)."""

from __future__ import annotations

import math

from aws_cdk import Duration

from csv_ingest_engine.constants import MAX_PARTITIONS

# A task state waits this long past its function's own timeout for the answer (a cold start, the invoke's round
# trip): Lambda ends the invocation first, so the state's timeout only catches an answer that never comes.
ANSWER_MARGIN_S = 60
# Partition and Finish may each take this many full attempts: their retries after a Lambda service error (CDK's
# default, up to 6) come back in seconds; only an attempt whose answer was lost after it ran its full length costs
# the function's timeout again.
STEP_ATTEMPTS = 2
# Step Functions redrives an execution up to 14 days after it ended; a redrive or a rerun reads the work objects.
REDRIVE_WINDOW_DAYS = 14
DAY_S = 24 * 3600


def task_timeout_s(function_timeout: Duration) -> int:
    """One attempt of a task state: its function's timeout and the margin."""
    return int(function_timeout.to_seconds()) + ANSWER_MARGIN_S


def ingest_timeout_s(function_timeout: Duration, max_workers: int) -> int:
    """The Map at its largest: MAX_PARTITIONS partitions, `max_workers` at a time, each one attempt of its task.
    Partitions are sized to take a few minutes, not the function's whole timeout, which leaves room for retries."""
    return math.ceil(MAX_PARTITIONS / max_workers) * task_timeout_s(function_timeout)


def execution_timeout(function_timeout: Duration, max_workers: int) -> Duration:
    """Partition and Finish with their attempts, and the Map: a file that takes longer fails (States.Timeout). A Map
    state has no timeout of its own (ASL gives TimeoutSeconds to tasks only): the execution's bounds it."""
    steps = 2 * STEP_ATTEMPTS * task_timeout_s(function_timeout)
    return Duration.seconds(steps + ingest_timeout_s(function_timeout, max_workers))


def work_objects_lifetime(function_timeout: Duration, max_workers: int) -> Duration:
    """At least as long as an execution may run and then be redriven (or its failed partitions rerun), plus a day
    (S3 expires objects at the first midnight after their lifetime): chunks written as an execution starts are
    still there for a redrive or rerun 14 days after its longest run ended."""
    running_days = math.ceil(execution_timeout(function_timeout, max_workers).to_seconds() / DAY_S)
    return Duration.days(running_days + REDRIVE_WINDOW_DAYS + 1)
