"""The options `load` and `validate` share, defined once (`file_options`): SOURCE, the key and the columns' types,
the file's format, where AWS is, --mode, the ordering, --rejects and --json, handed to the command as one
`FileOptions`."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from csv_ingest.cli.ordering_options import order_attribute, ordering_options
from csv_ingest.cli.schema_options import SchemaOptions, schema_options
from csv_ingest_engine import schema as schemas
from csv_ingest_engine.constants import (
    DEFAULT_DELIMITER,
    DEFAULT_ENCODING,
    DEFAULT_KEY_COLUMN,
    DEFAULT_MAX_CELLS,
    DEFAULT_WRITE_MODE,
    ENCODINGS,
    MAX_CELLS_CEILING,
    WRITE_MODES,
    WriteMode,
)
from csv_ingest_engine.schema import CsvFormat, SchemaError

Command = Callable[..., None]
Decorator = Callable[[Command], Command]

source_argument = click.argument("source", metavar="SOURCE")
key_column_option = click.option(
    "--key-column",
    metavar="COLUMN",
    help=f"The column that holds the table's partition key (default {DEFAULT_KEY_COLUMN}; load: the table's, which "
    "this must then name).",
)
mode_option = click.option(
    "--mode",
    type=click.Choice(WRITE_MODES),
    default=DEFAULT_WRITE_MODE,
    show_default=True,
    help="merge: upsert each row into its item, keeping other attributes. "
    "replace: put whole items (each row REPLACES its item) - for loads into empty tables; with --no-ordering in "
    "batches of 25 (much faster), else one by one, each on the condition of its item's order stamp. "
    "changed: read the items back (BatchGetItem, 100 keys a request) and upsert, as merge does, only the rows that "
    "would change them - for a whole export loaded again where few rows changed.",
)


def _delimiter(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return schemas.delimiter(value, origin="--delimiter")
    except SchemaError as exc:
        raise click.BadParameter(str(exc).removeprefix("--delimiter: "), ctx=ctx, param=param) from None


def _encoding(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return schemas.encoding(value, origin="--encoding")
    except SchemaError as exc:
        raise click.BadParameter(str(exc).removeprefix("--encoding: "), ctx=ctx, param=param) from None


delimiter_option = click.option(
    "--delimiter",
    default=DEFAULT_DELIMITER,
    show_default=True,
    callback=_delimiter,
    help="The file's field separator: , ; | or tab (European Excel writes ;).",
)


def _max_cells(ctx: click.Context, param: click.Parameter, value: str | None) -> int:
    try:
        return schemas.max_cells(value, origin="--max-cells")
    except SchemaError as exc:
        raise click.BadParameter(str(exc).removeprefix("--max-cells: "), ctx=ctx, param=param) from None


def format_options(command: Command) -> Command:
    """`--delimiter`, `--encoding` and `--max-cells`: how the file is written (a `.csv.gz` file is decompressed as it
    is read), and the widest row read."""
    for option in reversed(
        [
            delimiter_option,
            click.option(
                "--encoding",
                default=DEFAULT_ENCODING,
                show_default=True,
                callback=_encoding,
                help=f"The file's text encoding: {', '.join(ENCODINGS)} (utf-16 with its byte-order mark). A file "
                "that starts with a UTF-8 byte-order mark is read as UTF-8 whatever this says.",
            ),
            click.option(
                "--max-cells",
                default=str(DEFAULT_MAX_CELLS),
                show_default=True,
                callback=_max_cells,
                help=f"The most cells a row may have, empty ones included (at most {MAX_CELLS_CEILING:,}, the most "
                "attributes a 400 KB item could hold): a wider row is rejected, a wider header fails the file.",
            ),
        ]
    ):
        command = option(command)
    return command


json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the outcome as one JSON object on stdout, for scripts (no progress bar, no table).",
)


def aws_options(command: Command) -> Command:
    """`--endpoint-url`, `--region` and `--profile`: where and as whom the command reaches AWS."""
    for option in reversed(
        [
            click.option(
                "--endpoint-url", help="A DynamoDB (and S3) endpoint other than AWS's, e.g. http://127.0.0.1:8000."
            ),
            click.option("--region", help="AWS region (default: from your AWS configuration)."),
            click.option("--profile", help="AWS profile from ~/.aws/config."),
        ]
    ):
        command = option(command)
    return command


def _rejects_path(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Check the report can be written before any row is: a bad path must not surface mid-file."""
    if value is not None and not value.parent.is_dir():
        raise click.BadParameter(f"the folder {value.parent} does not exist", ctx=ctx, param=param)
    return value


rejects_option = click.option(
    "--rejects",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    callback=_rejects_path,
    help="Write rejected rows to this CSV (original cells + rejected_line, rejected_reason), in line order; fix it, "
    "load it again. Replaced at the end of each run; removed when no row was rejected.",
)


def _refuse_rejects_on_input(rejects: Path | None, source: str) -> None:
    """The report must never be the file being read: writing it would destroy the input mid-read."""
    if rejects is None or source.startswith("s3://"):
        return
    with contextlib.suppress(OSError):  # either does not exist: then they are not the same file
        if Path(source).samefile(rejects):  # also through a symlink, a hard link or another relative path
            raise click.BadParameter(
                f"{rejects} is the file being read ({source}); the report would overwrite it. "
                f"Name another file, e.g. --rejects {Path(source).with_suffix('').name}.rejected.csv",
                param_hint="'--rejects'",
            )


@dataclass(frozen=True)
class Aws:
    """Where and as whom to reach AWS: the command's `--endpoint-url`, `--region` and `--profile`."""

    endpoint_url: str | None
    region: str | None
    profile: str | None

    @functools.cached_property
    def session(self) -> Any:
        import boto3  # deferred: `validate` of a local file and `--help` need no AWS SDK start-up

        return boto3.Session(profile_name=self.profile, region_name=self.region)

    def client(self, service: str, config: Any) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url, config=config)


@dataclass(frozen=True)
class FileOptions:
    """SOURCE and the options `load` and `validate` share, as the command line gave them."""

    source: str
    schema: SchemaOptions
    fmt: CsvFormat
    mode: WriteMode
    aws: Aws
    rejects: Path | None
    as_json: bool
    # The attribute the writes carry their upload's order stamp in (None: --no-ordering).
    order_attribute: str | None

    @classmethod
    def take(cls, params: dict[str, Any]) -> FileOptions:
        """The shared options, taken out of click's `params` (the command's own are left there)."""
        # Each option's parameter is named as the field it fills.
        schema = SchemaOptions(**{name: params.pop(name) for name in SchemaOptions.__dataclass_fields__})
        aws = Aws(**{name: params.pop(name) for name in Aws.__dataclass_fields__})
        fmt = CsvFormat(params.pop("delimiter"), params.pop("encoding"), params.pop("max_cells"))
        ordering = {name: params.pop(name) for name in ("no_ordering", "order_attribute")}
        return cls(
            params.pop("source"),
            schema,
            fmt,
            params.pop("mode"),
            aws,
            params.pop("rejects"),
            params.pop("as_json"),
            order_attribute(**ordering),
        )


def file_options(
    *, table: Decorator | None = None, ordering: Sequence[Decorator] = (), writing: Sequence[Decorator] = ()
) -> Decorator:
    """SOURCE and the shared options, given to the command as its first argument, a `FileOptions`; the command's own
    options are its keyword arguments. `table` is listed right after SOURCE, `ordering` with --no-ordering and
    --order-attribute, `writing` after them (load's)."""

    def decorate(command: Command) -> Command:
        @functools.wraps(command)
        def with_options(**params: Any) -> None:
            options = FileOptions.take(params)
            _refuse_rejects_on_input(options.rejects, options.source)
            options.schema.check_delete_column(options.order_attribute)
            command(options, **params)

        # load: where the table is, then how to write to it; validate: the rules it checks by, then where AWS is.
        rules: list[Decorator] = [mode_option, *ordering, ordering_options]
        aws_and_rules: list[Decorator] = [aws_options, *rules] if table is not None else [*rules, aws_options]
        decorators: list[Decorator] = [
            source_argument,
            *([table] if table is not None else []),
            key_column_option,
            schema_options,
            format_options,
            *aws_and_rules,
            *writing,
            rejects_option,
            json_option,
        ]
        decorated: Command = with_options
        for decorator in reversed(decorators):
            decorated = decorator(decorated)
        return decorated

    return decorate
