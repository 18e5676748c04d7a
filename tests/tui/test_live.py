"""Live updates: what other processes do shows up without a key press or a restart."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from labtasker.fsqueue.store import FsQueue
from tests.tui.conftest import SIZE, make_app, settle

pytestmark = pytest.mark.timeout(60)

SUBMIT = """\
import sys
from labtasker.fsqueue.store import FsQueue
from labtasker.fsqueue import tasks
queue = FsQueue(sys.argv[1], node="other-host")
print(tasks.submit(queue, task_name="late_arrival", args={"lr": 0.5}, priority=100)["task_id"])
"""


async def wait_for(pilot, condition, timeout: float = 30.0) -> float:  # type: ignore[no-untyped-def]
    """Seconds until ``condition()`` held (the app keeps running meanwhile); the timeout only bounds a hang."""
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
        out = subprocess.run(
            [sys.executable, "-c", SUBMIT, str(sample.path)], capture_output=True, text=True, check=True
        )
        task_id = out.stdout.strip()
        # no timer: the watcher's events alone bring it in
        await wait_for(pilot, lambda: task_id in app.query_one("#tasks").task_ids())
        assert app.query_one("#tasks").task_ids()[0] == task_id  # priority 100: the head of the queue
        assert str(app.query_one("#states").leaves["pending"].label).split() == ["pending", "8"]


async def test_the_rescan_timer_catches_what_events_miss(sample: FsQueue) -> None:
    from labtasker.fsqueue import tasks

    app = make_app(sample, watch=False, rescan_every=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tasks.update(sample, "019593e1-be80-700f-b896-32e653faa3c4", {"status": "cancelled"})
        await wait_for(pilot, lambda: app.query_one("#tasks").row_count == 6)


def fill(queue: FsQueue, n: int) -> None:
    """``n`` pending tasks written straight as files (as the core names and writes them, minus fsync)."""
    from datetime import datetime, timedelta, timezone

    from labtasker.fsqueue import codec
    from labtasker.fsqueue import documents as model

    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    for i in range(n):
        doc = model.new_task(
            task_id=f"01950000-{i:04d}-7000-8000-000000000000",
            now=start + timedelta(seconds=i),
            node="bulk",
            task_name="bulk",
            args={"lr": i / n, "seed": i % 7},
        )
        doc.update(status="pending", rev=1)
        (queue.path / "pending" / queue.name_for("pending", doc)).write_bytes(codec.dump(model.ordered(doc)))


async def stall(seconds: float) -> float:
    """The longest the event loop was blocked during ``seconds`` (a frozen screen shows up here)."""
    import asyncio

    worst, end = 0.0, time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.monotonic()
        await asyncio.sleep(0.01)
        worst = max(worst, time.monotonic() - t - 0.01)
    return worst


async def test_a_big_queue_stays_responsive(tmp_path) -> None:  # type: ignore[no-untyped-def]
    queue = FsQueue.create(tmp_path / "big", "big", node="n1")
    fill(queue, 3000)
    app = make_app(queue, rescan_every=0.5)
    # The baseline, measured here and now: how long one full scan of this queue takes on this machine
    # under its present load. A scan on the event loop would freeze the screen at least that long;
    # an idle machine keeps the 1 s bound, a loaded one scales it by its measured slowness.
    from labtasker.tui import scan

    start = time.monotonic()
    scan.scan(queue, app.view, app.now())
    limit = max(1.0, time.monotonic() - start)
    async with app.run_test(size=SIZE) as pilot:
        worst = 0.0
        while app.snapshot is None:
            worst = max(worst, await stall(0.1))
        worst = max(worst, await stall(1.5))  # a few rescans of an unchanged queue
        assert worst < limit, f"the screen froze for {worst:.2f} s (a full scan takes {limit:.2f} s here)"
        await settle(pilot)
        assert app.table.row_count == 1000
        assert "first 1000 of 3000 shown" in str(app.status_line.render())
        app.filter_box.input.value = "args.seed == 3"
        await wait_for(pilot, lambda: app.snapshot.view.expr == "args.seed == 3")
        assert app.snapshot.matched == 429 and app.table.row_count == 429
