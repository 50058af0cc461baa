"""The functions' AWS clients: one of each per process, created on first use, so that tests can start moto first and
warm invocations reuse their connections."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast

import boto3

from csv_ingest_engine.objects import CLIENT_CONFIG, OUTCOME_CLIENT_CONFIG, dynamodb_config

if TYPE_CHECKING:  # the stubs are a development dependency; the Lambda runtime has none
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient


class EventsClient(Protocol):
    """The one EventBridge call the functions make (the development stubs cover S3, DynamoDB and Step Functions)."""

    def put_events(self, *, Entries: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]: ...


@functools.cache
def s3_client() -> S3Client:
    return boto3.client("s3", config=CLIENT_CONFIG)


@functools.cache
def dynamodb_client(concurrency: int) -> DynamoDBClient:
    """Shared by the writer's threads (one connection each) and reused by warm invocations."""
    return boto3.client("dynamodb", config=dynamodb_config(concurrency))


@functools.cache
def stepfunctions_client() -> SFNClient:
    return boto3.client("stepfunctions", config=CLIENT_CONFIG)


@functools.cache
def events_client() -> EventsClient:
    return cast("EventsClient", boto3.client("events", config=OUTCOME_CLIENT_CONFIG))


# Every client above, for whoever must forget them (a test's or the demo's new account).
CLIENTS = (s3_client, dynamodb_client, stepfunctions_client, events_client)
