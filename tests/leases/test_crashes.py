"""Workers die (SIGKILL); every task still ends exactly once in a terminal state."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

import labtasker
from labtasker.fsqueue import locking
from labtasker.fsqueue.store import FsQueue
from labtasker.worker import required
from tests.leases.conftest import INTERVAL, TIMEOUT, Procs, finished, lease_age, state, wait_for

pytestmark = pytest.mark.slow


def _running(queue: FsQueue, task_id: str) -> bool:
    return state(queue, task_id) == "running"


def test_sigkill_with_the_monitor_pending_again_within_seconds(
    fast: Path, queue: FsQueue, procs: Procs
) -> None:
    tid = labtasker.submit_task(args={"x": 1}).task_id
    procs.monitor(fast)
    worker = procs.worker(fast, MODE="hang")
    wait_for(lambda: _running(queue, tid), "the worker to claim the task")
    running = queue.find(tid).doc
    worker_id = running["worker_id"]
    assert (running["lease"]["interval"], running["lease"]["timeout"]) == (INTERVAL, TIMEOUT)  # config.toml
    worker.kill()
    killed = time.monotonic()
    wait_for(lambda: state(queue, tid) == "pending", "the monitor to reclaim the task", timeout=10)
    took = time.monotonic() - killed
    task = labtasker.get_task(tid)
    assert task.retries == 1
    assert task.worker_id is None
    assert "worker gone" in task.last_error
    assert worker_id in task.last_error
    assert took < TIMEOUT  # the liveness lock told, no need to wait for the lease to time out

    def failures() -> int:  # the document is briefly in hand while it changes
        return int((queue.read("workers", f"{worker_id}.yaml") or {}).get("retries") or 0)

    wait_for(lambda: failures() == 1, "the dead worker's failure count to rise")
    # the line follows the move
    wait_for(lambda: "reclaimed task " + tid in procs.text("monitor"), "the monitor to log it")


def test_sigkill_without_a_monitor_the_next_loop_reclaims(fast: Path, queue: FsQueue, procs: Procs) -> None:
    tid = labtasker.submit_task(args={"x": 1}).task_id
    worker = procs.worker(fast, name="first", MODE="hang")
    wait_for(lambda: _running(queue, tid), "the first worker to claim the task")
    worker.kill()
    worker.wait()
    assert finished(procs.worker(fast, name="second", WHO="second")) == 0
    task = labtasker.get_task(tid)
    assert (task.status, task.retries, task.summary) == ("success", 1, {"by": "second"})
    assert task.last_error is None  # it succeeded: the reclaim stays in its history only
    (reclaimed,) = labtasker.ls_attempts(tid)
    assert "worker gone" in reclaimed.last_error and reclaimed.status == "failed"


def test_lease_timeout_when_the_owner_cannot_be_checked(fast: Path, queue: FsQueue, procs: Procs) -> None:
    """No liveness lock to probe (as for a worker on another host): only the lease timeout tells."""
    tid = labtasker.submit_task(args={"x": 1}).task_id
    worker = procs.worker(fast, name="first", MODE="hang")
    wait_for(lambda: _running(queue, tid), "the first worker to claim the task")
    worker.kill()
    worker.wait()
    for lock in locking.lock_dir(queue).glob("*.lock"):
        lock.unlink()
    # a loop that looks before the lease timed out leaves the task alone...
    if lease_age(queue, tid) < TIMEOUT / 2:
        tally = labtasker.api.run_loop(lambda run: None, required.build_tree(["x"]))
        assert tally.total == 0
        assert state(queue, tid) == "running"
    # ...the next one after the timeout reclaims and runs it
    wait_for(lambda: lease_age(queue, tid) > TIMEOUT, "the lease to expire")
    assert finished(procs.worker(fast, name="late", WHO="late")) == 0
    task = labtasker.get_task(tid)
    assert (task.status, task.retries, task.summary["by"]) == ("success", 1, "late")
    assert "heartbeat lost" in labtasker.ls_attempts(tid)[0].last_error


def test_a_poison_task_ends_in_failed_after_max_retries(fast: Path, queue: FsQueue, procs: Procs) -> None:
    poison = labtasker.submit_task(args={"x": 1}, metadata={"mode": "die"}, max_retries=3).task_id
    healthy = labtasker.submit_task(args={"x": 2}, priority=-1).task_id
    runs = []
    for i in range(10):  # each loop dies on the poison task; the next one reclaims it
        runs.append(finished(procs.worker(fast, name=f"w{i}")))
        if state(queue, poison) == "failed" and state(queue, healthy) == "done":
            break
    task = labtasker.get_task(poison)
    assert (task.status, task.retries) == ("failed", 3)
    assert runs == [-signal.SIGKILL] * 3 + [0]  # three attempts, then the fourth loop just cleans up
    assert labtasker.get_task(healthy).status == "success"
    assert not os.listdir(queue.path / "running")
