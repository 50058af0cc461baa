"""Order stamps sort as their uploads do: by time, then by S3's sequencer compared as a hexadecimal number."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from csv_ingest_engine.ordering import STAMP_BYTES, as_of, event_moment, stamp

NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ((NOON, "FF"), (NOON, "0100")),  # a shorter sequencer is padded on the left: 0xFF < 0x100
        ((NOON, "0055AED6DCD90281E5"), (NOON, "0055AED6DCD90281E6")),
        ((NOON, "FFFFFFFFFFFFFFFFFF"), (NOON + timedelta(microseconds=1), "00")),  # time first
        ((datetime(999, 1, 1, tzinfo=UTC), None), (datetime(2026, 1, 1, tzinfo=UTC), None)),  # 4-digit years
        ((NOON, None), (NOON.astimezone(timezone(timedelta(hours=2))) + timedelta(seconds=1), None)),  # in UTC
    ],
)
def test_a_newer_uploads_stamp_sorts_after_an_older_ones(
    older: tuple[datetime, str | None], newer: tuple[datetime, str | None]
) -> None:
    """Compared as text, as DynamoDB compares the condition's strings."""
    assert stamp(*older) < stamp(*newer)


def test_every_stamp_has_the_same_length() -> None:
    """Fixed width, so that text order is upload order (and the item-size rule can count it in advance)."""
    stamps = {stamp(NOON, "AB"), stamp(datetime(1, 1, 1, tzinfo=UTC)), stamp(NOON, "x-not-hex"), stamp(NOON, "")}
    assert {len(s.encode()) for s in stamps} == {STAMP_BYTES}


def test_a_sequencer_that_is_not_hexadecimal_counts_as_none() -> None:
    """Only S3 writes sequencers; anything else in the field is not trusted to order uploads."""
    assert stamp(NOON, "not hex") == stamp(NOON, None) == "2026-12-01T12:00:00.000000Z " + "0" * 24


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-12-07T06:31:57.123Z", datetime(2026, 12, 7, 6, 31, 57, 123000, tzinfo=UTC)),
        ("1970-01-01T00:00:00.000Z", datetime(1970, 1, 1, tzinfo=UTC)),
        ("", None),
        (None, None),
        ("yesterday", None),
    ],
)
def test_an_events_time_is_read_as_s3_writes_it(text: str | None, moment: datetime | None) -> None:
    assert event_moment(text) == moment


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("2026-13-01", "is not a date and time"),
        ("0226-11-01", "is before 1970"),
    ],
)
def test_an_as_of_that_is_no_uploads_time_is_refused(text: str, problem: str) -> None:
    """A typo in --as-of must not order a load before (or, with a 3-digit year, after) every real upload."""
    with pytest.raises(ValueError, match=problem):
        as_of(text)


def test_an_as_of_without_an_offset_is_utc() -> None:
    assert as_of("2026-12-01T18:30") == datetime(2026, 12, 1, 18, 30, tzinfo=UTC)
    assert as_of("2026-12-01T18:30:00+01:00") == datetime(2026, 12, 1, 17, 30, tzinfo=UTC)
