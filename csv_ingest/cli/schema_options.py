"""The columns' types, the key schema and the delete-marker column on the command line: the options, and the schema
rows are written with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import click

from csv_ingest_engine import schema as schemas
from csv_ingest_engine.constants import COLUMN_TYPES, DEFAULT_KEY_COLUMN, KEY_TYPES, ColumnType, KeyType
from csv_ingest_engine.schema import KeyAttribute, Schema, SchemaError


def _delete_column(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    try:
        return schemas.delete_column(value, origin="--delete-column")
    except SchemaError as exc:
        raise click.BadParameter(str(exc).removeprefix("--delete-column: "), ctx=ctx, param=param) from None


def schema_options(command: Callable[..., None]) -> Callable[..., None]:
    """The columns' types, the key schema beyond --key-column (load reads the key schema from the table) and the
    delete-marker column."""
    for option in reversed(
        [
            click.option(
                "--type",
                "types",
                multiple=True,
                metavar="COLUMN=TYPE",
                help=f"Write COLUMN as TYPE: {', '.join(COLUMN_TYPES)} (S, a string as written, is every column's "
                "default). Repeatable; overrides --types-file.",
            ),
            click.option(
                "--types-file",
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                metavar="PATH",
                help='A JSON object of column types, e.g. {"age": "N", "active": "BOOL"} (the stack\'s column_types).',
            ),
            click.option(
                "--key-type",
                type=click.Choice(KEY_TYPES, case_sensitive=False),
                help="The partition key's type (default S; load: the table's).",
            ),
            click.option(
                "--sort-key-column",
                metavar="COLUMN",
                help="The column that holds the table's sort key (default none; load: the table's).",
            ),
            click.option(
                "--sort-key-type",
                type=click.Choice(KEY_TYPES, case_sensitive=False),
                help="The sort key's type (default S; load: the table's).",
            ),
            click.option(
                "--delete-column",
                metavar="COLUMN",
                callback=_delete_column,
                help="A row whose COLUMN cell is true (any case) deletes its item (DeleteItem, on the ordering's "
                "condition); false or empty writes the row; anything else rejects it. COLUMN is never written. A file "
                "without it has no deletes. Default: none (the stack's delete_column).",
            ),
        ]
    ):
        command = option(command)
    return command


@dataclass(frozen=True)
class SchemaOptions:
    """What the command line says about the key and the columns' types; `None`: not given."""

    key_column: str | None
    key_type: str | None
    sort_key_column: str | None
    sort_key_type: str | None
    types: tuple[str, ...]
    types_file: Path | None
    delete_column: str | None = None

    def column_types(self) -> dict[str, ColumnType]:
        """--types-file, then each --type over it; a bad entry is a usage error naming it."""
        try:
            types: dict[str, ColumnType] = {}
            if self.types_file is not None:
                types.update(
                    schemas.column_types(self.types_file.read_text(encoding="utf-8"), origin=str(self.types_file))
                )
            for option in self.types:
                name, kind = schemas.type_option(option)
                types[name] = kind
        except (SchemaError, OSError, UnicodeDecodeError) as exc:
            raise click.BadParameter(str(exc), param_hint="'--type' / '--types-file'") from None
        return types

    def schema(self, table_key: tuple[KeyAttribute, KeyAttribute | None] | None = None) -> Schema:
        """The schema rows are written with: the table's key (`table_key`, as DescribeTable gave it), which the key
        options, if given, must match; or, without a table, the key the options describe."""
        if table_key is not None:
            self._check_against(*table_key)
            partition, sort = table_key
        else:
            partition = KeyAttribute(self.key_column or DEFAULT_KEY_COLUMN, _key_type(self.key_type))
            sort = KeyAttribute(self.sort_key_column, _key_type(self.sort_key_type)) if self.sort_key_column else None
            if self.sort_key_type and not self.sort_key_column:
                raise click.BadParameter("--sort-key-type needs --sort-key-column", param_hint="'--sort-key-type'")
        try:
            schema = Schema(partition, sort, self.column_types())
        except SchemaError as exc:
            raise click.BadParameter(str(exc), param_hint="'--type' / '--types-file'") from None
        try:
            return replace(schema, delete_column=self.delete_column)
        except SchemaError as exc:
            raise click.BadParameter(str(exc), param_hint="'--delete-column'") from None

    def check_delete_column(self, order_attribute: str | None) -> None:
        """The delete-marker column is not the order attribute (a usage error otherwise)."""
        try:
            schemas.check_delete_column(self.delete_column, order_attribute)
        except SchemaError as exc:
            raise click.BadParameter(str(exc), param_hint="'--delete-column'") from None

    def _check_against(self, partition: KeyAttribute, sort: KeyAttribute | None) -> None:
        """The key options describe the table's key, or are a usage error saying what the table has."""
        table = f"the table's key is {Schema(partition, sort).describe()}"
        given = {
            "--key-column": (self.key_column, partition.name),
            "--key-type": (self.key_type and self.key_type.upper(), partition.type),
            "--sort-key-column": (self.sort_key_column, sort.name if sort else None),
            "--sort-key-type": (self.sort_key_type and self.sort_key_type.upper(), sort.type if sort else None),
        }
        for option, (value, actual) in given.items():
            if value is not None and value != actual:
                raise click.BadParameter(
                    f"{table}, but {option} says {value!r}: leave it out (load reads the key from the table), or "
                    "name the table keyed that way",
                    param_hint=f"'{option}'",
                )


def _key_type(kind: str | None) -> KeyType:
    return schemas.key_type(kind or "S", origin="key type")
