"""Which upload a load's rows are ordered as, on the command line: `--as-of` (load's), `--no-ordering` and
`--order-attribute` (shared with validate, so that validate predicts load), and the `Ordering` a load writes with."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import click

from csv_ingest_engine import ordering as orderings
from csv_ingest_engine import schema as schemas
from csv_ingest_engine.constants import DEFAULT_ORDER_ATTRIBUTE
from csv_ingest_engine.ordering import Ordering
from csv_ingest_engine.schema import SchemaError


def _as_of(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = orderings.as_of(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    if moment > orderings.now():
        # Its rows would outrank every upload until then, the pipeline's own included: surely a typo.
        raise click.BadParameter(
            f"{value!r} is in the future: the load's rows would be kept over every upload made until then; give a "
            "moment not later than now",
            ctx=ctx,
            param=param,
        )
    return moment


def _order_attribute(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return schemas.order_attribute(value, origin="--order-attribute")
    except SchemaError as exc:
        raise click.BadParameter(str(exc).removeprefix("--order-attribute: "), ctx=ctx, param=param) from None


as_of_option = click.option(
    "--as-of",
    metavar="TIME",
    callback=_as_of,
    help="Order this load's rows as those of an upload made at TIME, for a backfill: an item that holds a newer "
    "upload's rows keeps them (those rows are counted as superseded). ISO 8601, UTC unless it names an offset, e.g. "
    "2026-12-01 or 2026-12-01T18:30:00Z. Default: the moment the load started.",
)


def ordering_options(command: Callable[..., None]) -> Callable[..., None]:
    """`--no-ordering` and `--order-attribute`: whether and where the writes carry their upload's order stamp."""
    for option in reversed(
        [
            click.option(
                "--no-ordering",
                is_flag=True,
                help="Write without order stamps, for a table deployed with context ordering=off: items get no "
                f"{DEFAULT_ORDER_ATTRIBUTE} attribute, and every row overwrites its item whichever upload wrote it "
                "last (validate: check the rules of such writes).",
            ),
            click.option(
                "--order-attribute",
                metavar="NAME",
                callback=_order_attribute,
                help=f"The attribute where each item keeps the order stamp of the upload that last wrote it (default "
                f"{DEFAULT_ORDER_ATTRIBUTE}; for a table deployed with context order_attribute, name the same). No "
                "column may be named so, and the stamp counts toward each item's 400 KB.",
            ),
        ]
    ):
        command = option(command)
    return command


def order_attribute(*, no_ordering: bool, order_attribute: str | None) -> str | None:
    """The attribute the writes are stamped in (None: ordering off), from `--no-ordering` and `--order-attribute`."""
    if no_ordering and order_attribute is not None:
        raise click.UsageError(
            "--order-attribute names where the writes keep their order stamp, and --no-ordering writes none: give "
            "one of them",
            ctx=click.get_current_context(silent=True),
        )
    return None if no_ordering else order_attribute or DEFAULT_ORDER_ATTRIBUTE


def load_ordering(attribute: str | None, as_of: datetime | None) -> Ordering | None:
    """What a load writes with: one stamp for the whole load (every worker process's rows too), as of `--as-of` or
    of now, the moment the load starts; None with `--no-ordering`."""
    if attribute is None:
        if as_of is not None:
            raise click.UsageError(
                "--as-of orders the load's rows, and --no-ordering turns ordering off: give one of them",
                ctx=click.get_current_context(silent=True),
            )
        return None
    return Ordering(attribute, orderings.stamp(as_of or orderings.now()))
