"""Ctrl-C during a load: the first press asks the run to stop sending (the engine polls it), a second aborts."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType


class _CtrlC:
    """SIGINT during a load: the first asks it to stop (`pressed`, which the engine polls), a second aborts at once."""

    def __init__(self) -> None:
        # A plain flag: the handler runs between two bytecodes of the main thread, so it must take no lock.
        self.pressed = False

    def should_stop(self) -> bool:
        return self.pressed

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.pressed:
            raise KeyboardInterrupt  # the run unwinds (the --rejects report is discarded), exit 130
        self.pressed = True


@contextlib.contextmanager
def ctrl_c_stops() -> Iterator[Callable[[], bool] | None]:
    """While the block runs, Ctrl-C asks the load to stop instead of raising KeyboardInterrupt; the previous
    handler comes back after. Yields the `should_stop` to hand the engine (None where Ctrl-C is left alone)."""
    # Only the main thread may set handlers; and SIGINT ignored (a script's `cmd &` without job control) stays so.
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield None
        return
    ctrl_c = _CtrlC()
    previous = signal.signal(signal.SIGINT, ctrl_c.handle)
    try:
        yield ctrl_c.should_stop
    finally:
        # None: the handler was not set from Python; the default is the closest to put back.
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
