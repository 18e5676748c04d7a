"""Live updates: what other processes do shows up without a key press or a restart."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from labtasker.fsqueue.queue import FsQueue
from tests.tui.conftest import SIZE, make_app, settle

pytestmark = pytest.mark.timeout(60)

SUBMIT = """\
import sys
from labtasker.fsqueue.queue import FsQueue
from labtasker.fsqueue import tasks
queue = FsQueue(sys.argv[1], node="other-host")
print(tasks.submit(queue, task_name="late_arrival", args={"lr": 0.5}, priority=100)["task_id"])
"""


async def wait_for(pilot, condition, timeout: float = 10.0) -> float:  # type: ignore[no-untyped-def]
    """Seconds until ``condition()`` held (the app keeps running meanwhile)."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError("timed out")
        await pilot.pause(0.05)
    return time.monotonic() - start


@pytest.mark.parametrize("polling", [False, True], ids=["native", "polling"])
async def test_a_task_submitted_by_another_process_appears(sample: FsQueue, polling: bool) -> None:
    app = make_app(sample, watch=True, polling=polling, rescan_every=None)  # events alone, no timer
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.query_one("#tasks").row_count == 7
        out = subprocess.run([sys.executable, "-c", SUBMIT, str(sample.path)], capture_output=True,
                             text=True, check=True)
        task_id = out.stdout.strip()
        took = await wait_for(pilot, lambda: task_id in app.query_one("#tasks").task_ids())
        assert took < 5
        assert app.query_one("#tasks").task_ids()[0] == task_id  # priority 100: the head of the queue
        assert str(app.query_one("#states").leaves["pending"].label).split() == ["pending", "8"]


async def test_the_rescan_timer_catches_what_events_miss(sample: FsQueue) -> None:
    from labtasker.fsqueue import tasks

    app = make_app(sample, watch=False, rescan_every=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tasks.update(sample, "019593e1-be80-700f-b896-32e653faa3c4", {"status": "cancelled"})
        await wait_for(pilot, lambda: app.query_one("#tasks").row_count == 6)
