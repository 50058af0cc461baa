"""A file's rejected rows as its log tells them, bounded whatever the file: the first few by line (line, key, and a
reason that quotes no cell), and how many there were. Every one of them is in the rejects report."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from csv_ingest_engine.rules import Rejection

# A logged key is cut to this many characters: a row rejected for its key's size may have a key cell of up to the
# reader's field limit (1 MiB), and every logged line stays around a kilobyte.
LOGGED_KEY_CHARS = 256
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LoggedRejection:
    """A rejected row as the log shows it: where it is, its item's key, and why, with no other cell of it."""

    line: int
    key: str | None
    reason: str

    @classmethod
    def of(cls, rejection: Rejection) -> LoggedRejection:
        key = rejection.key
        if key is not None and len(key) > LOGGED_KEY_CHARS:
            key = f"{key[: LOGGED_KEY_CHARS - 3]}..."
        return cls(rejection.line, key, rejection.loggable_reason)

    @classmethod
    def from_json(cls, data: Any) -> LoggedRejection:
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        line, key, reason = data.get("line"), data.get("key"), data.get("reason")
        if not isinstance(line, int) or not isinstance(reason, str) or not isinstance(key, str | None):
            raise ValueError("expected a line, a key (or null) and a reason")
        return cls(line, key, reason)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class FirstByLine(Generic[T]):
    """The `limit` rejections with the lowest lines of those added, each as `keep` makes it, and how many were added.
    The writer's threads reject rows out of line order, so the first ones are kept by line, not by arrival (in a
    heap of `limit`)."""

    def __init__(self, limit: int, keep: Callable[[Rejection], T]) -> None:
        self.limit = limit
        self.count = 0
        self._keep = keep
        # (-line, arrival, kept): the kept rejection with the highest line on top, ready to make way.
        self._kept: list[tuple[int, int, T]] = []

    def add(self, rejection: Rejection) -> None:
        self.count += 1
        if len(self._kept) < self.limit:
            heapq.heappush(self._kept, (-rejection.line, self.count, self._keep(rejection)))
        elif self._kept and rejection.line < -self._kept[0][0]:
            heapq.heapreplace(self._kept, (-rejection.line, self.count, self._keep(rejection)))

    def __len__(self) -> int:
        """How many are kept (at most `limit`)."""
        return len(self._kept)

    def in_line_order(self) -> list[T]:
        return [kept for _, _, kept in sorted(self._kept, key=lambda entry: (-entry[0], entry[1]))]


class FirstRejections(FirstByLine[LoggedRejection]):
    """A file's first rejected rows by line as its log names them (`LoggedRejection`: no cell but the key, cut)."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit, LoggedRejection.of)


def first_of(groups: Iterable[Iterable[LoggedRejection]], limit: int) -> list[LoggedRejection]:
    """The `limit` rejections with the lowest lines of all `groups` (each partition's first ones: together, the
    file's), in line order."""
    return heapq.nsmallest(limit, (logged for group in groups for logged in group), key=lambda logged: logged.line)


def where_logged(logged: int, log: str) -> str:
    """A sentence saying where the rows of a report that could not be written can be read: how many of them `log`
    (the log of a function: "this function's log") names."""
    if not logged:
        return f"{log} names none of them (logged_rejections is 0)."
    rows = "row" if logged == 1 else f"{logged:,} rows"
    return f"{log} names the first {rows} (line, key and reason)."
