"""Each function's settings: the engine's configuration (`config.EngineConfig`) and what is the function's own (the
resources it is told of). A missing or malformed variable fails the invocation at once, naming it."""

from __future__ import annotations

from dataclasses import dataclass, field

from csv_ingest_engine.config import EngineConfig, optional_variable, required_variable
from csv_ingest_engine.constants import (
    ENV_REJECTS_BUCKET,
    ENV_STATE_MACHINE_ARN,
    ENV_TABLE_NAME,
    ENV_WORK_BUCKET,
    WriteMode,
)
from csv_ingest_engine.schema import CsvFormat, Schema


@dataclass(frozen=True, slots=True)
class _EngineSettings:
    """The engine's configuration, read through: `settings.schema` is `settings.engine.schema`, and so on."""

    engine: EngineConfig

    @property
    def schema(self) -> Schema:
        return self.engine.schema

    @property
    def fmt(self) -> CsvFormat:
        return self.engine.fmt

    @property
    def key_column(self) -> str:
        """The partition key's column (the schema's)."""
        return self.engine.key_column

    @property
    def write_mode(self) -> WriteMode:
        return self.engine.write_mode

    @property
    def write_concurrency(self) -> int:
        return self.engine.write_concurrency

    @property
    def consistent_reads(self) -> bool:
        return self.engine.consistent_reads


@dataclass(frozen=True, slots=True)
class Settings(_EngineSettings):
    """The S3-triggered function's: the table it writes small files to, and the state machine it hands large ones
    (over `large_file_bytes`) to; without a state machine every file is ingested in place."""

    table_name: str
    rejects_bucket: str | None
    state_machine_arn: str | None

    @property
    def large_file_bytes(self) -> int:
        return self.engine.large_file_bytes

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            engine=EngineConfig.from_env(),
            table_name=required_variable(ENV_TABLE_NAME, "the DynamoDB table's name"),
            rejects_bucket=optional_variable(ENV_REJECTS_BUCKET),
            state_machine_arn=optional_variable(ENV_STATE_MACHINE_ARN),
        )


@dataclass(frozen=True, slots=True)
class PartitionSettings(_EngineSettings):
    """The partition task's: where the partitions go (and, from the engine's configuration, their target size)."""

    work_bucket: str

    @property
    def partition_bytes(self) -> int:
        return self.engine.partition_bytes

    @classmethod
    def from_env(cls) -> PartitionSettings:
        return cls(
            engine=EngineConfig.from_env(), work_bucket=required_variable(ENV_WORK_BUCKET, "the work bucket's name")
        )


@dataclass(frozen=True, slots=True)
class IngestPartitionSettings(_EngineSettings):
    """A partition worker's: where its partition is, and the table it writes to."""

    work_bucket: str
    table_name: str

    @classmethod
    def from_env(cls) -> IngestPartitionSettings:
        return cls(
            engine=EngineConfig.from_env(),
            work_bucket=required_variable(ENV_WORK_BUCKET, "the work bucket's name"),
            table_name=required_variable(ENV_TABLE_NAME, "the DynamoDB table's name"),
        )


@dataclass(frozen=True, slots=True)
class FinishSettings:
    """The finish task's: the work objects it reads and deletes, and where the merged rejects report goes (none
    without a rejects bucket, as on the one-file path), written in the files' format."""

    work_bucket: str
    rejects_bucket: str | None
    engine: EngineConfig = field(default_factory=EngineConfig)

    @property
    def fmt(self) -> CsvFormat:
        return self.engine.fmt

    @classmethod
    def from_env(cls) -> FinishSettings:
        return cls(
            work_bucket=required_variable(ENV_WORK_BUCKET, "the work bucket's name"),
            rejects_bucket=optional_variable(ENV_REJECTS_BUCKET),
            engine=EngineConfig.from_env(),
        )
