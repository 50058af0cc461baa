"""An existing table and upload bucket a deployment uses instead of creating its own, named in app.py's context:
each checked as it is given, then imported into the stack, which can neither replace nor delete what it imports."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

# DynamoDB's rule for a table name.
TABLE_NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{3,255}")
# S3's rules for a general purpose bucket's name: 3 to 63 lowercase letters, digits, dots and hyphens, starting and
# ending with a letter or digit, no two dots in a row, not an IP address.
BUCKET_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
IP_ADDRESS_PATTERN = re.compile(r"\d+\.\d+\.\d+\.\d+")
# A key's own ARN: IAM authorizes the use of a key by its key ARN, never by an alias.
KEY_ARN_PATTERN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+")


@dataclass(frozen=True, kw_only=True)
class ExistingResources:
    """What `app.py` reads from the context keys of the same names; each one left out is created by the stack."""

    table_name: str | None = None
    """An existing DynamoDB table, in the stack's account and region, that the rows are written to instead of a
    table of the stack's own. Its key schema must be PipelineProps' (`key_column`, `key_type`, `sort_key_*`): the
    stack does not read it. Default: none, the stack creates the table."""
    table_key_arn: str | None = None
    """The ARN of the customer-managed KMS key that encrypts `table_name`, when one does: the functions may then use
    it through DynamoDB, for their writes (the key's policy must let this account's IAM policies allow that, as
    KMS's default key policy does). Default: none, a table under an AWS owned or AWS managed key, which needs no
    grant."""
    upload_bucket_name: str | None = None
    """An existing S3 bucket, in the stack's account, whose new CSV objects (under PipelineProps' `upload_prefix`)
    are ingested, instead of an upload bucket of the stack's own. Default: none, the stack creates it."""
    upload_bucket_key_arn: str | None = None
    """The ARN of the customer-managed KMS key that encrypts `upload_bucket_name`'s objects (SSE-KMS), when one does:
    the functions may then decrypt with it through S3 (with the same condition on the key's policy). Default: none,
    objects under SSE-S3 or the AWS managed aws/s3 key, which need no grant."""

    def __post_init__(self) -> None:
        if self.table_name is not None and not TABLE_NAME_PATTERN.fullmatch(self.table_name):
            raise ValueError(
                "table_name must be a DynamoDB table's name (3 to 255 letters, digits, '_', '.' or '-'), "
                f"got {self.table_name!r}"
            )
        if self.upload_bucket_name is not None and not _is_bucket_name(self.upload_bucket_name):
            raise ValueError(
                "upload_bucket_name must be an S3 bucket's name (3 to 63 lowercase letters, digits, '.' or '-', "
                f"starting and ending with a letter or digit), got {self.upload_bucket_name!r}"
            )
        for key, arn, resource, name in (
            ("table_key_arn", self.table_key_arn, "table_name", self.table_name),
            ("upload_bucket_key_arn", self.upload_bucket_key_arn, "upload_bucket_name", self.upload_bucket_name),
        ):
            if arn is None:
                continue
            if name is None:
                raise ValueError(f"{key} is the key of an existing resource, {resource}: set {resource} too")
            if not KEY_ARN_PATTERN.fullmatch(arn):
                raise ValueError(
                    f"{key} must be a KMS key's ARN (arn:aws:kms:<region>:<account>:key/<key id>; not an alias, "
                    f"which IAM does not authorize by), got {arn!r}"
                )

    def import_table(self, scope: Construct) -> dynamodb.ITable | None:
        """The existing table as `scope`'s `ExistingTable` (with its key, when given), or None."""
        if self.table_name is None:
            return None
        key = kms.Key.from_key_arn(scope, "ExistingTableKey", self.table_key_arn) if self.table_key_arn else None
        return dynamodb.Table.from_table_attributes(
            scope, "ExistingTable", table_name=self.table_name, encryption_key=key
        )

    def import_upload_bucket(self, scope: Construct) -> s3.IBucket | None:
        """The existing upload bucket as `scope`'s `ExistingUploadBucket` (with its key, when given), or None."""
        if self.upload_bucket_name is None:
            return None
        key = (
            kms.Key.from_key_arn(scope, "ExistingUploadBucketKey", self.upload_bucket_key_arn)
            if self.upload_bucket_key_arn
            else None
        )
        return s3.Bucket.from_bucket_attributes(
            scope, "ExistingUploadBucket", bucket_name=self.upload_bucket_name, encryption_key=key
        )


def _is_bucket_name(name: str) -> bool:
    return bool(BUCKET_NAME_PATTERN.fullmatch(name)) and ".." not in name and not IP_ADDRESS_PATTERN.fullmatch(name)
