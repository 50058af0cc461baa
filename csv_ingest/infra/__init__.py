"""The CDK constructs of csv-ingest: the pipeline, its props, the existing resources a deployment may name and the
stack that deploys it."""

from csv_ingest.infra.existing import ExistingResources
from csv_ingest.infra.pipeline import CsvIngestPipeline
from csv_ingest.infra.props import PipelineProps
from csv_ingest.infra.stack import CsvIngestStack

__all__ = ["CsvIngestPipeline", "CsvIngestStack", "ExistingResources", "PipelineProps"]
