"""The deployable stack: one CsvIngestPipeline, and the existing table or upload bucket it uses, if any."""

from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, Stack
from constructs import Construct

from csv_ingest.infra.existing import ExistingResources
from csv_ingest.infra.pipeline import CsvIngestPipeline
from csv_ingest.infra.props import PipelineProps


class CsvIngestStack(Stack):
    """Instantiates the pipeline with the props `app.py` read from context, and with the table and upload bucket
    `existing` names, imported here (the pipeline creates whichever is not named)."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        props: PipelineProps | None = None,
        existing: ExistingResources | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        existing = existing or ExistingResources()
        self.pipeline = CsvIngestPipeline(
            self,
            "Pipeline",
            props=props,
            existing_table=existing.import_table(self),
            existing_upload_bucket=existing.import_upload_bucket(self),
        )
        named = [name for name in ("table_name", "upload_bucket_name") if getattr(existing, name) is not None]
        if named and not self.pipeline.props.retain_data:
            Annotations.of(self).add_warning_v2(
                "csv-ingest:existing-replaces-own",
                f"{' and '.join(named)} given without retain_data=true: if this stack was deployed before with a "
                "table or upload bucket of its own, deploying this deletes it, with its items or objects (it leaves "
                "the template). Deploy once with -c retain_data=true first, or copy the data out (README: Use your "
                "own table or bucket).",
            )
