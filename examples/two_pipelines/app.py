#!/usr/bin/env python3
"""Two pipelines in one stack, sharing an existing upload bucket by prefix: customers/*.csv into a customers table
keyed on customer_id, orders/*.csv into an orders table keyed on customer_id and order_id, each with its own column
types, alarms and dashboard.

From the repository root (its cdk.json gives the feature flags; in an app of your own, `pip install
'csv-ingest[cdk]'` and write the same stack):

    npx cdk deploy --app '.venv/bin/python examples/two_pipelines/app.py' -c upload_bucket_name=acme-incoming
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from csv_ingest.infra import CsvIngestPipeline, PipelineProps

STACK_ID = "ShopImports"


class ShopImports(cdk.Stack):
    """`customers` and `orders`, two pipelines watching one bucket of the account under their own prefixes."""

    def __init__(self, scope: Construct, id_: str, *, upload_bucket_name: str, **kwargs: Any) -> None:
        super().__init__(scope, id_, **kwargs)
        # Imported, not created: its versioning, encryption and policy stay its owner's, and the pipelines' S3
        # notifications are added beside the ones it already has.
        uploads = s3.Bucket.from_bucket_name(self, "Uploads", upload_bucket_name)
        self.customers = CsvIngestPipeline(
            self,
            "Customers",
            props=PipelineProps(
                upload_prefix="customers/",
                # Each pipeline's own metrics dimension: its alarms and dashboard count its files only.
                service_name="csv-ingest-customers",
                key_column="customer_id",
                column_types={"age": "N"},
            ),
            existing_upload_bucket=uploads,
        )
        self.orders = CsvIngestPipeline(
            self,
            "Orders",
            props=PipelineProps(
                upload_prefix="orders/",
                service_name="csv-ingest-orders",
                key_column="customer_id",
                sort_key_column="order_id",
                column_types={"quantity": "N", "total": "N", "paid": "BOOL"},
            ),
            existing_upload_bucket=uploads,
        )


def build_app(context: Mapping[str, Any] | None = None, *, outdir: str | None = None) -> cdk.App:
    """The app `cdk synth` runs (the tests build it too, with the context the CLI would pass)."""
    app = cdk.App(context=dict(context or {}), outdir=outdir)
    bucket = app.node.try_get_context("upload_bucket_name")
    if not isinstance(bucket, str) or not bucket.strip():
        raise SystemExit("name the bucket the files arrive in: -c upload_bucket_name=<bucket>")
    ShopImports(app, STACK_ID, upload_bucket_name=bucket.strip())
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
