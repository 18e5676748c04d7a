"""The loop stops jobs that must stop, and a fenced worker never overwrites another run's result."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import pytest

import labtasker
from labtasker import Required
from labtasker.errors import LeaseLost
from labtasker.fsqueue import codec, tasks
from labtasker.fsqueue.store import FsQueue
from labtasker.worker import runner
from tests.leases.conftest import TIMEOUT


def _steps(n: int) -> None:
    for _ in range(n):
        time.sleep(0.01)


@pytest.mark.usefixtures("fast")
def test_past_eta_max_the_attempt_fails_like_any_other() -> None:
    tid = labtasker.submit_task(args={"x": 1}, max_retries=2).task_id
    finished = []

    @labtasker.loop(eta_max=0.3, max_tasks=1)
    def main(x: int = Required()) -> None:
        with contextlib.suppress(Exception):  # a job's own broad except does not swallow the stop
            _steps(500)  # 5 s
        finished.append(x)

    tally = main()
    task = labtasker.get_task(tid)
    assert finished == []
    assert tally.failed == 1
    assert (task.status, task.retries) == ("pending", 1)
    assert task.last_error.startswith("eta_max exceeded: the run exceeded eta_max (0.3s)")
    assert labtasker.ls_workers().content[0].retries == 1


@pytest.mark.usefixtures("fast")
def test_past_eta_max_on_the_last_retry_the_task_fails() -> None:
    tid = labtasker.submit_task(args={"x": 1}, max_retries=1).task_id

    @labtasker.loop(eta_max=0.2)
    def main(x: int = Required()) -> None:
        _steps(500)

    main()
    assert labtasker.get_task(tid).status == "failed"


@pytest.mark.usefixtures("fast")
def test_a_worker_that_cannot_renew_stops_its_job_before_the_lease_may_be_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tid = labtasker.submit_task(args={"x": 1}).task_id
    hung = threading.Event()
    monkeypatch.setattr(tasks, "heartbeat", lambda queue, name: hung.wait(30))  # storage stops answering
    times: dict[str, float] = {}

    @labtasker.loop(max_tasks=1)
    def main(x: int = Required()) -> None:
        times["start"] = time.monotonic()
        try:
            _steps(500)
        finally:
            times["stop"] = time.monotonic()

    try:
        main()
    finally:
        hung.set()
    assert times["stop"] - times["start"] < TIMEOUT  # stopped before anyone may reclaim
    task = labtasker.get_task(tid)
    assert (task.status, task.retries) == ("pending", 1)  # the lease was still ours: a failed attempt
    assert task.last_error.startswith("lease not renewed")


def test_report_task_status_from_a_fenced_worker_is_a_clear_error(project: Path, queue: FsQueue) -> None:
    tid = labtasker.submit_task(args={"x": 1}).task_id
    errors = []

    @labtasker.loop()
    def main(x: int = Required()) -> None:
        # someone cancels this task while it runs...
        labtasker.update_tasks([labtasker.TaskUpdateRequest(**{"_id": tid, "status": "cancelled"})])
        try:  # ...so this worker's report must not land on it
            labtasker.report_task_status(tid, "running", summary={"acc": 0.9})
        except LeaseLost as exc:
            errors.append(str(exc))
            raise

    tally = main()
    assert tally.lost == 1
    assert errors == [
        f"task {tid} is no longer held by this worker (cancelled, reclaimed or deleted); "
        "this run's result was kept in attempts/"
    ]
    task = labtasker.get_task(tid)
    assert (task.status, task.summary) == ("cancelled", {})
    (attempt,) = [codec.load(p.read_bytes()) for p in (queue.path / "attempts").iterdir()]
    assert attempt["summary"] == {"acc": 0.9}
    assert attempt["task_id"] == tid


def test_ctrl_c_puts_the_task_back_without_a_retry(project: Path, queue: FsQueue) -> None:
    tid = labtasker.submit_task(args={"x": 1}).task_id

    @labtasker.loop()
    def main(x: int = Required()) -> None:
        raise KeyboardInterrupt

    with pytest.raises(labtasker.LoopStopped) as stopped:
        main()
    assert stopped.value.code == 130  # a SystemExit: the script ends with 130 and no traceback
    task = labtasker.get_task(tid)
    assert (task.status, task.retries, task.worker_id, task.last_error) == ("pending", 0, None, None)
    assert "lease" not in queue.find(tid).doc
    assert not list((queue.tmp / "locks").glob("*.lock"))  # the worker's liveness lock is gone with it


@pytest.mark.usefixtures("fast")
def test_a_job_that_watches_lease_lost_stops_itself(queue: FsQueue) -> None:
    """The CLI's way: poll ``run.lease_lost`` (or register ``run.on_stop``) instead of being interrupted."""
    tid = labtasker.submit_task(args={"x": 1}).task_id
    seen = []

    def job(run: runner.Run) -> None:
        called = threading.Event()
        run.on_stop(called.set)
        while not run.lease_lost:
            if not seen:
                tasks.update(run.queue, tid, {"status": "cancelled"})
                seen.append(run.task_id)
            time.sleep(0.01)
        assert called.is_set()
        assert run.stop_kind == "lost"

    tally = labtasker.api.run_loop(job, labtasker.worker.required.build_tree(["x"]))
    assert tally.lost == 1
    assert labtasker.get_task(tid).status == "cancelled"
