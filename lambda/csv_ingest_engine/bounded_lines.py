"""The physical lines the csv module parses, handed over so that memory and time stay bounded on any input: no
record is held past RECORD_CHAR_LIMIT characters, and the clock is looked at every STOP_CHECK_CHARS characters
read, blank lines included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

# The most characters of one record (its line ends and the lines of its quoted line breaks included) that are held.
# A record DynamoDB can take is shorter: its values are at most 409,600 bytes (the 400 KB item, names aside), at
# most twice that as written with every quote doubled (819,200 characters), plus 3 characters a cell for its
# quotes and delimiter, 1,228,800 for the most cells a record may have (constants.MAX_CELLS_CEILING): 2,048,000,
# which leaves 49,152 characters for the line end and a rejects report's own two columns. Only cells written
# longer than their value (whitespace around a key, a number, a boolean or JSON) make a longer one.
RECORD_CHAR_LIMIT = 2 * 1024 * 1024
# How often the clock (`should_stop`) is looked at: every STOP_CHECK_EVERY records, by whoever sees them (the reader
# counts the blank ones it skips, the ingestion the others), and every STOP_CHECK_CHARS characters read, whatever
# they hold. Each is a few milliseconds of reading at most.
STOP_CHECK_EVERY = 256
STOP_CHECK_CHARS = 256 * 1024


class ReadingStopped(Exception):
    """`should_stop` turned true while the file was being read: every record before `line` was yielded, none from
    it on."""

    def __init__(self, line: int) -> None:
        super().__init__(f"stopped before line {line}")
        self.line = line


class RecordTooLong(Exception):
    """A record went past RECORD_CHAR_LIMIT characters: `lines` are its first lines as read, the last one cut
    after RECORD_CHAR_LIMIT + 1 characters in all (the csv module has not seen it)."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("a record longer than RECORD_CHAR_LIMIT characters")
        self.lines = lines


class ReadsLines(Protocol):
    def readline(self, size: int = -1, /) -> str: ...


class BoundedLines:
    """The lines of `text` for csv readers, each whole (with its line end: CRLF, LF or a lone CR) as long as the
    record it belongs to stays within RECORD_CHAR_LIMIT; `RecordTooLong` instead of the line that would take it
    past. `should_stop()` is asked every STOP_CHECK_CHARS characters; when true, `ReadingStopped` names the line the
    unfinished record starts on.

    The reader calls `record_read` each time the csv module makes a record of the lines handed out so far, saying
    whether it is blank: what reads the records never sees a blank one, nor looks at the clock for it, so this does,
    every STOP_CHECK_EVERY of them.
    """

    def __init__(self, text: ReadsLines, *, should_stop: Callable[[], bool] | None = None) -> None:
        self._readline = text.readline
        self._should_stop = should_stop
        self._held: list[str] = []  # the lines of the record being read
        self._room = RECORD_CHAR_LIMIT  # what the record may still take
        self._until_check = STOP_CHECK_CHARS
        self.lines = 0  # handed out
        self.record_start = 1  # the line the record being read starts on
        self._blank_records = 0

    def __iter__(self) -> BoundedLines:
        return self

    def __next__(self) -> str:
        room = self._room
        line = self._readline(room + 1)
        size = len(line)
        if not size:
            raise StopIteration
        self._held.append(line)
        if size > room:
            raise RecordTooLong(self._held)
        self._room = room - size
        self.lines += 1
        self._until_check -= size
        if self._until_check <= 0:
            self._until_check = STOP_CHECK_CHARS
            if self._should_stop is not None and self._should_stop():
                raise ReadingStopped(self.record_start)
        return line

    def record_read(self, *, blank: bool) -> None:
        """The lines handed out so far made a record (`blank`: with no cell that is not empty): the next one starts
        another."""
        self._held = []
        self._room = RECORD_CHAR_LIMIT
        self.record_start = self.lines + 1
        if blank:
            self._blank_records += 1
            if self._blank_records % STOP_CHECK_EVERY == 0 and self._should_stop is not None and self._should_stop():
                raise ReadingStopped(self.record_start)
