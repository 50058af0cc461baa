"""The functions' settings: read from `os.environ`, or from the variables `function_environment` lends one thread
(the demo's in-process Lambda, which runs several functions in one process)."""

from __future__ import annotations

import threading

import pytest

from csv_ingest_engine.config import environment, function_environment
from csv_ingest_engine.settings import FinishSettings


@pytest.fixture
def process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORK_BUCKET", "the-process-work-bucket")
    monkeypatch.setenv("REJECTS_BUCKET", "the-process-rejects-bucket")


@pytest.mark.usefixtures("process_environment")
def test_settings_read_the_process_environment_by_default() -> None:
    """On Lambda: the function's variables are the process's."""
    assert FinishSettings.from_env() == FinishSettings("the-process-work-bucket", "the-process-rejects-bucket")


@pytest.mark.usefixtures("process_environment")
def test_settings_read_only_the_variables_lent_to_this_thread() -> None:
    """Inside `function_environment`, the settings read its variables and nothing of the process's (a variable the
    function lacks is missing, as on Lambda); after it, the process's again."""
    with function_environment({"WORK_BUCKET": "the-function-work-bucket"}):
        assert FinishSettings.from_env() == FinishSettings("the-function-work-bucket", rejects_bucket=None)
    assert FinishSettings.from_env().work_bucket == "the-process-work-bucket"


@pytest.mark.usefixtures("process_environment")
def test_another_thread_reads_the_process_environment_meanwhile() -> None:
    """The lent variables are the lending thread's alone: another thread, at the same time, reads os.environ."""
    # given: a thread inside function_environment until told to leave
    inside, leave = threading.Event(), threading.Event()
    lent: list[str] = []

    def invocation() -> None:
        with function_environment({"WORK_BUCKET": "the-function-work-bucket"}):
            inside.set()
            leave.wait(5)
            lent.append(FinishSettings.from_env().work_bucket)

    thread = threading.Thread(target=invocation)
    thread.start()
    inside.wait(5)
    # when
    here = FinishSettings.from_env().work_bucket
    leave.set()
    thread.join(5)
    # then
    assert (here, lent) == ("the-process-work-bucket", ["the-function-work-bucket"])
    assert environment().get("WORK_BUCKET") == "the-process-work-bucket"
