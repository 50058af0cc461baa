"""The deployable stack: one CsvIngestPipeline, nothing else."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from csv_ingest.infra.pipeline import CsvIngestPipeline
from csv_ingest.infra.props import PipelineProps


class CsvIngestStack(Stack):
    """Instantiates the pipeline with the props `app.py` read from context."""

    def __init__(self, scope: Construct, id_: str, *, props: PipelineProps | None = None, **kwargs: Any) -> None:
        super().__init__(scope, id_, **kwargs)
        self.pipeline = CsvIngestPipeline(self, "Pipeline", props=props)
