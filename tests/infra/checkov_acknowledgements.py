"""The one place checkov's remaining findings on the synthesized templates are acknowledged, each with its reason.

tests/infra/test_checkov.py scans the templates of conftest's synths (`default`, `custom`, `kms`, `existing`) and fails
on a finding that is not here, and on an entry here that no longer matches a finding in the templates it names.
"""

from dataclasses import dataclass

from tests.infra.logical_ids import (
    ACCESS_LOGS_BUCKET_ID,
    FAILED_EVENTS_QUEUE_ID,
    FUNCTION_ID,
    FUNCTION_LOG_GROUP_ID,
    REJECTS_BUCKET_ID,
    TABLE_ID,
    WORK_BUCKET_ID,
)

# The templates scanned, by the name of their synth fixture without "_synth".
DEFAULT, CUSTOM, KMS, EXISTING = "default", "custom", "kms", "existing"
EVERY_TEMPLATE = frozenset({DEFAULT, CUSTOM, KMS, EXISTING})
WITHOUT_DATA_KEY = frozenset({DEFAULT, CUSTOM, EXISTING})

# The large-file path's resources (CDK's IDs where they are; see logical_ids.py).
PARTITION_FUNCTION = "PipelineLargeFilesPartitionFunction28844A41"
INGEST_PARTITION_FUNCTION = "PipelineLargeFilesIngestPartitionFunction54E98B1A"
FINISH_FUNCTION = "PipelineLargeFilesFinishFunction60D1FB9F"
LARGE_FILE_LOG_GROUPS = (
    "PipelineLargeFilesPartitionFunctionLogsF534D650",
    "PipelineLargeFilesIngestPartitionFunctionLogs26E39F71",
    "PipelineLargeFilesFinishFunctionLogs57C63D58",
    "PipelineLargeFilesStateMachineLogs83A26DC7",
)
# The functions CDK itself adds to the stack: the upload bucket's notification configuration and auto_delete_objects.
CDK_HANDLERS = (
    "BucketNotificationsHandler050a0587b7544547bf325f094a3db8347ECC3691",
    "CustomS3AutoDeleteObjectsCustomResourceProviderHandler9D90184F",
)
OUR_FUNCTIONS = (FUNCTION_ID, PARTITION_FUNCTION, INGEST_PARTITION_FUNCTION, FINISH_FUNCTION)


@dataclass(frozen=True)
class Acknowledgement:
    """checkov's `check` fails on each of `resources` (logical IDs) in `templates`, for `reason`."""

    check: str
    type_: str
    resources: tuple[str, ...]
    reason: str
    templates: frozenset[str] = EVERY_TEMPLATE

    def findings(self, template: str) -> set[tuple[str, str]]:
        """(check, resource) as checkov reports them for `template`: none if the acknowledgement is not for it."""
        if template not in self.templates:
            return set()
        return {(self.check, f"{self.type_}.{resource}") for resource in self.resources}


ACKNOWLEDGEMENTS = (
    # -- buckets -------------------------------------------------------------------------------------------------
    Acknowledgement(
        "CKV_AWS_18",
        "AWS::S3::Bucket",
        (ACCESS_LOGS_BUCKET_ID,),
        "The access-logs bucket is where the other buckets' server access logs go; logging its own requests into "
        "itself would log every log delivery (cdk-nag's AwsSolutions-S1 accepts it for the same reason).",
    ),
    Acknowledgement(
        "CKV_AWS_21",
        "AWS::S3::Bucket",
        (ACCESS_LOGS_BUCKET_ID,),
        "Access logs are written once by S3 and expire after 90 days; versions would keep nothing worth keeping.",
    ),
    Acknowledgement(
        "CKV_AWS_21",
        "AWS::S3::Bucket",
        (REJECTS_BUCKET_ID,),
        "A report's key names the upload's version already, and a rerun that rejects nothing deletes the earlier "
        "report on purpose: versioning would keep deleted reports (rows of personal data) beyond "
        "rejects_expiration_days.",
    ),
    Acknowledgement(
        "CKV_AWS_21",
        "AWS::S3::Bucket",
        (WORK_BUCKET_ID,),
        "The work bucket holds short-lived copies of an upload's rows, deleted once the file is in; versioning "
        "would keep every deleted chunk, copies of rows that the versioned upload bucket holds already.",
    ),
    # -- encryption with the services' own keys (the default; encryption=kms gives a customer-managed key) ----------
    Acknowledgement(
        "CKV_AWS_119",
        "AWS::DynamoDB::Table",
        (TABLE_ID,),
        "By default the table is encrypted with the AWS-managed aws/dynamodb key; -c encryption=kms encrypts it with "
        "the stack's customer-managed key (the kms template has no such finding; the existing template no table).",
        frozenset({DEFAULT, CUSTOM}),
    ),
    Acknowledgement(
        "CKV_AWS_27",
        "AWS::SQS::Queue",
        (FAILED_EVENTS_QUEUE_ID,),
        "The queue is encrypted at rest with SSE-SQS (SqsManagedSseEnabled), which this check does not recognise "
        "(it looks for a KMS key only); -c encryption=kms uses the stack's customer-managed key.",
        WITHOUT_DATA_KEY,
    ),
    Acknowledgement(
        "CKV_AWS_158",
        "AWS::Logs::LogGroup",
        (FUNCTION_LOG_GROUP_ID, *LARGE_FILE_LOG_GROUPS),
        "By default CloudWatch Logs encrypts the log groups with its own keys; -c encryption=kms uses the stack's "
        "customer-managed key.",
        WITHOUT_DATA_KEY,
    ),
    Acknowledgement(
        "CKV_AWS_173",
        "AWS::Lambda::Function",
        OUR_FUNCTIONS,
        "By default Lambda encrypts the environment (names of the table and buckets, the file format: no secret, "
        "no personal data) with its AWS-managed key; -c encryption=kms uses the stack's customer-managed key.",
        WITHOUT_DATA_KEY,
    ),
    # -- the functions -------------------------------------------------------------------------------------------
    Acknowledgement(
        "CKV_AWS_116",
        "AWS::Lambda::Function",
        (FUNCTION_ID,),
        "S3 invokes the trigger asynchronously with an on-failure destination, the failed-events queue, which keeps "
        "the event and the error after the retries (a dead-letter queue would keep the event only).",
    ),
    Acknowledgement(
        "CKV_AWS_116",
        "AWS::Lambda::Function",
        (PARTITION_FUNCTION, INGEST_PARTITION_FUNCTION, FINISH_FUNCTION),
        "Step Functions invokes the large-file functions synchronously, and a dead-letter queue receives failed "
        "asynchronous invocations only: a failure is the task's error, retried by the state machine and kept in "
        "the execution's history, which the FailedExecutions alarm reports.",
    ),
    Acknowledgement(
        "CKV_AWS_116",
        "AWS::Lambda::Function",
        CDK_HANDLERS,
        "CDK's own custom-resource handlers, which offer no dead-letter queue; CloudFormation invokes them during a "
        "deployment, which fails (and rolls back) when one does.",
    ),
    Acknowledgement(
        "CKV_AWS_117",
        "AWS::Lambda::Function",
        (*OUR_FUNCTIONS, *CDK_HANDLERS),
        "The functions call AWS APIs only (S3, DynamoDB, Step Functions, SQS, CloudWatch), authorised by IAM and "
        "over TLS; the stack has no VPC resources to reach, and a VPC would need NAT or an endpoint per service.",
    ),
    Acknowledgement(
        "CKV_AWS_115",
        "AWS::Lambda::Function",
        (PARTITION_FUNCTION, FINISH_FUNCTION),
        "Partition and Finish run once per large-file execution each, and write nothing to the table; a "
        "reservation would take concurrency from the account for no bound the executions do not already give "
        "(the trigger and the workers, which write to the table, have theirs).",
    ),
    Acknowledgement(
        "CKV_AWS_115",
        "AWS::Lambda::Function",
        (FUNCTION_ID,),
        "The custom template deploys with -c trigger_reserved_concurrency=none, the documented choice for an "
        "account whose concurrency quota cannot spare a reservation.",
        frozenset({CUSTOM}),
    ),
    Acknowledgement(
        "CKV_AWS_115",
        "AWS::Lambda::Function",
        CDK_HANDLERS,
        "CDK's own custom-resource handlers, invoked by CloudFormation a few times per deployment.",
    ),
)


def acknowledged(template: str) -> set[tuple[str, str]]:
    """Every (check, resource) acknowledged for `template`."""
    return {finding for ack in ACKNOWLEDGEMENTS for finding in ack.findings(template)}
