"""A copy of a CSV (a rejects report, say) that a spreadsheet opens without running anything in it.

A rejects report stays exact, cell for cell, so that it loads again as it is; but the cells are whatever was
uploaded, and a spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula (CSV injection: a
formula can fetch a URL with the sheet's data, or, in old Excel, start a program). The copy puts an apostrophe
before each such cell, and before one that starts with a tab or a carriage return (OWASP's list), which the
spreadsheet then shows as text; so does a cell that starts with the fullwidth form of one of the four (some
locales' spreadsheets read those as formulas too). Numbers are left alone: `-5` and `+5` are read as numbers and run
nothing.

The copy is for reading, not for loading: its changed cells would be stored with their apostrophe. Fix the rows in
the exact report and load that.
"""

from __future__ import annotations

import csv
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from csv_ingest_engine.errors import IngestError
from csv_ingest_engine.reading import FIELD_SIZE_LIMIT

# What a spreadsheet may take for the start of a formula: OWASP's list, and the fullwidth forms of its four.
FORMULA_STARTS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
# A number, as a spreadsheet reads one: it is a value, never a formula, so it keeps its sign.
# (Each digit belongs to one group only: `\d+\.?\d*` would try every split of a long run of digits.)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# Excel's "CSV UTF-8": the byte-order mark is how it knows the text is UTF-8 (without it, it reads the local code page).
COPY_ENCODING = "utf-8-sig"


def runs_as_formula(cell: str) -> bool:
    """Whether a spreadsheet would take `cell` for a formula."""
    return cell[:1] in FORMULA_STARTS and not _NUMBER.fullmatch(cell)


def spreadsheet_safe(cell: str) -> str:
    """`cell` as a spreadsheet should get it: text that would run as a formula, after an apostrophe."""
    return "'" + cell if runs_as_formula(cell) else cell


@dataclass(frozen=True, slots=True)
class Copied:
    """What a copy changed: rows read after the header, cells read (the header's too), and cells given an
    apostrophe."""

    rows: int
    cells: int
    changed: int


def write_spreadsheet_copy(source: Path, copy: Path, *, delimiter: str) -> Copied:
    """Write `copy`: the CSV at `source` (UTF-8, its byte-order mark optional, cells separated by `delimiter`), row
    by row, each cell through `spreadsheet_safe`, in UTF-8 with a byte-order mark and the same delimiter.

    The copy is written next to `copy` and moved into place at the end: a failure (`IngestError`, naming the line)
    leaves `copy` as it was.
    """
    rows = -1  # the header is not a row
    cells = changed = 0
    csv.field_size_limit(FIELD_SIZE_LIMIT)  # a report's cells are as large as the files' may be
    temporary = copy.with_name(f".{copy.name}.{secrets.token_hex(4)}.tmp")
    try:
        with (
            source.open(encoding="utf-8-sig", newline="") as text,
            temporary.open("x", encoding=COPY_ENCODING, newline="") as out,
        ):
            writer = csv.writer(out, delimiter=delimiter)
            reader = csv.reader(text, delimiter=delimiter, strict=True)
            try:
                for row in reader:
                    safe = [spreadsheet_safe(cell) for cell in row]
                    rows += 1
                    cells += len(row)
                    changed += sum(1 for before, after in zip(row, safe, strict=True) if before != after)
                    writer.writerow(safe)
            except csv.Error as exc:
                raise IngestError(str(source), f"malformed CSV after line {reader.line_num}: {exc}") from None
            except UnicodeDecodeError:
                raise IngestError(str(source), "not UTF-8 text (a rejects report is UTF-8: is this one?)") from None
        temporary.replace(copy)
    except OSError as exc:
        raise IngestError(str(source), f"the copy could not be written to {copy}: {exc.strerror or exc}") from None
    finally:
        temporary.unlink(missing_ok=True)
    return Copied(max(rows, 0), cells, changed)
