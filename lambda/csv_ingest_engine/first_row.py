"""A first row that looks like data rather than a header, described by its shape: how many cells, and what each
looks like (an ID, a number, a date, an e-mail address, text), never what they hold.

A file without a header row fails on its first row, whose cells would otherwise be quoted as column names into the
log, the exception, the failed-events queue and the execution history.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Cell kinds named in the description (one of them makes the row data): the rest is "text".
_DATE = re.compile(
    r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2}))(?:[ T]\d{1,2}:\d{2}(?::\d{2})?\S*)?"
)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d+)*|[.,]\d+)(?:[eE][+-]?\d+)?%?")
# A column name is short and has no line break; a cell longer than this is text.
_LONGEST_NAME = 64
# Cells described one by one, at most; then how many more there are.
DESCRIBED_CELLS = 5


def cell_kind(cell: str) -> str | None:
    """What `cell` looks like when it looks like a value rather than a column's name (None: it could be a name).

    An ID has at least three digits and no more letters than digits (`C-1001`, `078-05-1120`, `+1 555 0100`), which
    names such as `address_2` or `2023_revenue` do not.
    """
    text = cell.strip()
    if len(text) > _LONGEST_NAME or "\n" in text or "\r" in text:
        return "long text"  # looked at first: a cell may be 1 MiB, and every check below is then a long one
    if "@" in text:
        return "an e-mail address" if _email(text) else "text with an @"
    if _DATE.fullmatch(text):
        return "a date"
    if _NUMBER.fullmatch(text):
        return "a number"
    digits = sum(ch.isdigit() for ch in text)
    if digits >= 3 and digits >= sum(ch.isalpha() for ch in text):
        return "an ID"
    return None


def _email(text: str) -> bool:
    """`local@domain.tld`: one @ with something before it, no whitespace, and a dot inside the domain (checked in one
    pass: a regular expression for it backtracks quadratically on a long cell of dots and @s)."""
    local, _, domain = text.partition("@")
    if not local or "@" in domain or any(ch.isspace() for ch in text):
        return False
    dot = domain.find(".", 1)
    return 0 < dot < len(domain) - 1


def data_row_shape(cells: Sequence[str]) -> str | None:
    """The row's shape in words (`4 cells: an ID, text, an e-mail address and an ID`) when any of its cells looks
    like a value; None when every one could be a column's name."""
    kinds = [cell_kind(cell) for cell in cells]
    if all(kind is None for kind in kinds):
        return None
    named = [kind or ("empty" if not cell.strip() else "text") for cell, kind in zip(cells, kinds, strict=True)]
    shown = named[:DESCRIBED_CELLS]
    more = len(named) - len(shown)
    listed = ", ".join(shown[:-1]) + f" and {shown[-1]}" if len(shown) > 1 else shown[0]
    if more:
        listed = f"{', '.join(shown)} and {more:,} more"
    return f"{len(cells):,} {'cell' if len(cells) == 1 else 'cells'}: {listed}"
