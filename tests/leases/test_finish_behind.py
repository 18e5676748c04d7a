"""A done task is finished on a thread while the loop claims the next one (worker/finish_behind.py).

Nothing of it may show: each job starts with the tasks before it done on disk,
``max_tasks`` counts a finish under way, a loop that waits for work reports its
last task first, and a finish that fails hands the task claimed meanwhile back.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

import labtasker
from labtasker.fsqueue import faults, layout
from labtasker.fsqueue.store import FsQueue
from labtasker.replicas.fsck import fsck
from tests.leases.conftest import BIN, Procs, finished, state, wait_for


def _on_disk(queue: FsQueue, dirname: str) -> list[str]:
    return sorted(n for n in os.listdir(queue.path / dirname) if n.endswith(layout.SUFFIX))


def test_each_job_starts_with_the_tasks_before_it_done_on_disk(queue: FsQueue) -> None:
    ids = [labtasker.submit_task(args={"i": i}).task_id for i in range(6)]
    seen: list[tuple[int, int, int]] = []

    @labtasker.loop()
    def job(i: int = labtasker.Required()) -> None:
        seen.append((i, len(_on_disk(queue, "done")), len(_on_disk(queue, "running"))))

    tally = job()
    assert seen == [(i, i, 1) for i in range(6)]  # all before it done, only itself running
    assert tally.done == 6 and [labtasker.get_task(t).status for t in ids] == ["success"] * 6
    assert _on_disk(queue, "running") == [] and fsck(queue).clean


def test_max_tasks_counts_a_finish_under_way(queue: FsQueue) -> None:
    for i in range(4):
        labtasker.submit_task(args={"i": i})

    @labtasker.loop(max_tasks=2)
    def job(i: int = labtasker.Required()) -> None:
        pass

    assert job().total == 2
    assert (len(_on_disk(queue, "done")), len(_on_disk(queue, "pending"))) == (2, 2)
    assert _on_disk(queue, "running") == []


def test_a_finish_that_fails_hands_back_the_task_claimed_meanwhile(
    queue: FsQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, third = (labtasker.submit_task(args={"i": i}).task_id for i in range(3))
    monkeypatch.setattr(faults, "_FAULT", faults._parse("write:ENOSPC:done:1"))  # the first finish
    ran: list[int] = []

    @labtasker.loop()
    def job(i: int = labtasker.Required()) -> None:
        ran.append(i)

    with pytest.raises(OSError, match="No space left"):
        job()
    assert ran == [0]  # the second task never started
    assert labtasker.get_task(first).status == "running"  # its run's end unwritten, not lost
    for tid in (second, third):
        task = labtasker.get_task(tid)
        assert (task.status, task.retries, task.worker_id) == ("pending", 0, None)
    assert not [n for n in os.listdir(queue.tmp) if n.startswith(("held.", "w."))]
    assert fsck(queue).clean


@pytest.mark.slow
def test_a_waiting_loop_reports_its_last_task_before_it_waits(
    project: Path, queue: FsQueue, procs: Procs
) -> None:
    tid = labtasker.submit_task(args={"x": 7}).task_id
    loop = procs.start(
        project, [str(BIN / "labtasker"), "loop", "--wait", "--no-pty", "--", sys.executable, "-c", "pass"], name="loop"
    )  # fmt: skip
    wait_for(
        lambda: f"task {tid} done" in procs.text("loop", "err"), "the loop to report the task", timeout=30
    )
    assert state(queue, tid) == "done" and loop.poll() is None  # reported, and still waiting
    loop.send_signal(signal.SIGINT)
    assert finished(loop, timeout=10) == 130
