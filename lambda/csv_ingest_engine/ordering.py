"""Which upload is newer: each upload's order stamp, which every write carries onto its item, so that a row of an
older upload never overwrites an item a newer one wrote.

Uploads are ordered by when S3 created them: the event's time, then, for two in one millisecond, S3's sequencer (it
orders the versions of one key; AWS compares two as hexadecimal numbers, the shorter padded with zeros on the left).
A stamp is that order as text of one fixed width, so DynamoDB compares two stamps as the uploads compare: a write
sets the item's order attribute to its upload's stamp, on the condition that the item has none or one not newer
(`requests`). Rows of one file share one stamp, so within a file the last row of a key still wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

# S3's sequencers are 16-18 hexadecimal digits; padded on the left to this many, they compare as numbers.
SEQUENCER_DIGITS = 24
_HEX = re.compile(r"[0-9A-F]*")
# The stamp's length: the time (2026-12-07T06:31:57.123000Z), a space, the sequencer (zeros for a command-line load).
STAMP_BYTES = 27 + 1 + SEQUENCER_DIGITS


@dataclass(frozen=True, slots=True)
class Ordering:
    """The attribute that carries the stamp on every item, and the stamp of the upload being written."""

    attribute: str
    stamp: str

    @property
    def item_bytes(self) -> int:
        """What the stamp adds to an item's size (its name and value, as DynamoDB counts them)."""
        return len(self.attribute.encode()) + len(self.stamp.encode())


def stamp(moment: datetime, sequencer: str | None = None) -> str:
    """The order stamp of an upload created at `moment` with S3's `sequencer` (none for a load from the command line:
    zeros; one that is not hexadecimal is ignored the same way)."""
    digits = (sequencer or "").strip().upper()
    if not _HEX.fullmatch(digits):
        digits = ""
    # Longer than S3's sequencers are, one would make a longer stamp, still ordered among stamps of its millisecond
    # as long as their sequencers are as long; none is known to be.
    digits = digits.lstrip("0").rjust(SEQUENCER_DIGITS, "0")
    return f"{_time_text(moment)} {digits}"


def _time_text(moment: datetime) -> str:
    """2026-12-07T06:31:57.123000Z: sorts as the moments do (UTC, fixed width, the year in four digits, microseconds:
    an event's milliseconds and a load's start alike)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").removesuffix("+00:00") + "Z"


def event_moment(event_time: str | None) -> datetime | None:
    """An S3 event's `eventTime` (ISO 8601, `1970-01-01T00:00:00.000Z`) as a moment; None if missing or unreadable."""
    if not event_time:
        return None
    try:
        return _utc_moment(event_time)
    except ValueError:
        return None


# No upload is older: an earlier --as-of is a typo (0226 for 2026), and would order a load before every upload.
EARLIEST_AS_OF = datetime(1970, 1, 1, tzinfo=UTC)


def as_of(text: str) -> datetime:
    """A moment given on the command line (`--as-of`): ISO 8601, a date or a date and time, UTC unless it names an
    offset, not before 1970. Raises `ValueError` with what is expected."""
    try:
        moment = _utc_moment(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date and time: use ISO 8601, e.g. 2026-12-01, 2026-12-01T18:30:00Z or "
            "2026-12-01T18:30:00+01:00 (UTC unless an offset is given)"
        ) from None
    if moment < EARLIEST_AS_OF:
        raise ValueError(f"{text!r} is before 1970: no upload is that old (a typo in the year?)")
    return moment


def _utc_moment(text: str) -> datetime:
    """An ISO 8601 date or date and time (a trailing Z for UTC), UTC unless it names an offset; raises `ValueError`."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC)
