"""The one exception type a user sees when a whole file cannot be ingested."""


class IngestError(Exception):
    """A file-level failure: the message names the file and says what to fix."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


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
