"""The exception types a user sees when a whole file cannot be ingested (or stopped early), and the writer's own."""


class IngestError(Exception):
    """A file-level failure: the message names the file and says what to fix.

    A file that fails while its rows are being written (the table refused, rows not written in time) carries the
    counts of then: `rows_written` is None for a file that failed before its first write. `rejects_report` is set to
    the URI of the report of the rows rejected before the failure, once it is written.
    """

    def __init__(
        self,
        source: str,
        problem: str,
        *,
        rows_written: int | None = None,
        rows_rejected: int = 0,
        rows_failed: int = 0,
        rows_superseded: int = 0,
        rows_unchanged: int = 0,
        rows_deleted: int = 0,
    ) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem
        self.rows_written = rows_written
        self.rows_rejected = rows_rejected
        self.rows_failed = rows_failed
        self.rows_superseded = rows_superseded
        self.rows_unchanged = rows_unchanged
        self.rows_deleted = rows_deleted
        self.rejects_report: str | None = None


class IngestStopped(IngestError):
    """`should_stop` turned true (the Lambda's deadline, Ctrl-C): the rows before `first_missing_line` are settled
    (written, unchanged, superseded, rejected or failed); from it on, some may be missing. Ingesting the file again is
    safe."""

    def __init__(
        self,
        source: str,
        problem: str,
        *,
        rows_written: int,
        rows_rejected: int,
        rows_failed: int,
        first_missing_line: int,
        rows_superseded: int = 0,
        rows_unchanged: int = 0,
        rows_deleted: int = 0,
    ) -> None:
        super().__init__(
            source,
            problem,
            rows_written=rows_written,
            rows_rejected=rows_rejected,
            rows_failed=rows_failed,
            rows_superseded=rows_superseded,
            rows_unchanged=rows_unchanged,
            rows_deleted=rows_deleted,
        )
        self.rows_written: int = rows_written
        self.first_missing_line = first_missing_line


class ExecutionNotStarted(IngestError):
    """The large-file state machine could not be started on the file: nothing was written."""


class TextLargerThanEstimated(IngestError):
    """The file's text is larger than what decided its path said (a `.csv.gz`'s size and trailer): `text_bytes` were
    read before anything was written (all of them when `whole`, else at least that many)."""

    def __init__(self, source: str, text_bytes: int, whole: bool) -> None:
        size = f"{text_bytes:,} bytes" if whole else f"over {text_bytes:,} bytes"
        super().__init__(
            source,
            f"the CSV text is {size}, far more than its compressed size and gzip trailer said (a trailer that does not "
            "match its data?), too large for one invocation; nothing was written",
        )
        self.text_bytes = text_bytes
        self.whole = whole


class WriteFailed(Exception):
    """The table refused a write for a reason that is not about the row (permissions, missing table, ...)."""

    def __init__(self, line: int, detail: str) -> None:
        super().__init__(f"line {line}: {detail}")
        self.line = line
        self.detail = detail


class DeadlineReached(Exception):
    """The caller's `should_stop` turned true while the writer was busy; `line` is the first row not handed over."""

    def __init__(self, line: int) -> None:
        super().__init__(f"stopped before line {line}")
        self.line = line
