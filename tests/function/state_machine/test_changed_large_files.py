"""`changed` mode on the large-file path: each partition's worker reads its rows back and writes only those that
change their item, and Finish counts the unchanged rows of all partitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from csv_ingest.local.lambdas import InProcessLambda
from handler import handler
from tests.support import Aws, DemoContext, emf_metrics
from tests.support.large_files import create_flow, trigger_and_wait

EARLIER = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LATER = EARLIER + timedelta(days=1)
KEYS = range(300)
# Every 30th customer moved in the second export: 10 rows of 300.
MOVED = {key for key in KEYS if key % 30 == 7}


def export(moved: set[int]) -> str:
    rows = "".join(f"c{key:03d},name {key},{'new city' if key in moved else 'city'} {key}\n" for key in KEYS)
    return "customer_id,name,city\n" + rows


@pytest.fixture
def changed_flow(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> str:
    """The flow in write_mode changed, partitions of ~2 KB, and the trigger sending every file to it."""
    arn = create_flow(aws, partition_bytes=2048, write_mode="changed")
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    monkeypatch.setenv("LARGE_FILE_BYTES", "0")
    return arn


def test_an_export_loaded_again_writes_only_its_changed_rows_in_every_partition(
    aws: Aws, changed_flow: str, lambdas: InProcessLambda, stdout: pytest.CaptureFixture[str]
) -> None:
    """The first export creates every item; the second, 10 rows of 300 changed, writes those 10: Finish's verdict
    counts the others unchanged across the partitions, and the table is the one merge would leave."""
    # given
    first = aws.upload("big.csv", export(set()))
    _, created = trigger_and_wait(aws, handler, lambdas, "big.csv", first, DemoContext(), event_time=EARLIER)
    assert created.verdict is not None and created.verdict["rows_written"] == 300
    second = aws.upload("big.csv", export(MOVED))
    stdout.readouterr()
    # when
    _, execution = trigger_and_wait(aws, handler, lambdas, "big.csv", second, DemoContext(), event_time=LATER)
    # then
    verdict = execution.verdict
    assert verdict is not None
    assert (verdict["rows_written"], verdict["rows_unchanged"], verdict["rows_rejected"]) == (10, 290, 0)
    assert verdict["partitions"] > 1
    written = [result["rows_written"] for result in execution.worker_results().values()]
    assert len([count for count in written if count]) > 1  # several partitions wrote their changed rows
    assert aws.items() == {
        f"c{key:03d}": {
            "customer_id": f"c{key:03d}",
            "name": f"name {key}",
            "city": f"{'new city' if key in MOVED else 'city'} {key}",
        }
        for key in KEYS
    }
    assert emf_metrics(stdout.readouterr().out)["RowsUnchanged"] == [290.0]
