"""A worker paused past its lease (SIGSTOP) comes back to find its task finished by another."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

import labtasker
from labtasker.fsqueue import codec
from labtasker.fsqueue.store import FsQueue
from tests.leases.conftest import TIMEOUT, Procs, finished, lease_age, state, wait_for

pytestmark = pytest.mark.slow


def test_the_winners_result_stands_and_the_zombies_goes_to_attempts(
    fast: Path, queue: FsQueue, procs: Procs
) -> None:
    tid = labtasker.submit_task(args={"x": 1}, metadata={"mode": "slow"}).task_id  # 2 s of work
    zombie = procs.worker(fast, name="zombie", WHO="zombie")
    wait_for(lambda: state(queue, tid) == "running", "the first worker to claim the task")
    zombie_id = queue.find(tid).doc["worker_id"]
    zombie.send_signal(signal.SIGSTOP)
    wait_for(lambda: lease_age(queue, tid) > TIMEOUT, "the paused worker's lease to expire")

    winner = procs.worker(fast, name="winner", WHO="winner", MODE="quick")
    assert finished(winner) == 0
    task = labtasker.get_task(tid)
    assert (task.status, task.summary, task.retries) == ("success", {"by": "winner"}, 1)
    assert task.last_error is None  # the winner succeeded; the reclaim is history
    (reclaim,) = labtasker.ls_attempts(tid)
    assert "heartbeat lost" in reclaim.last_error and reclaim.worker_id == zombie_id

    zombie.send_signal(signal.SIGCONT)
    assert finished(zombie) == 0  # it stops its job, finds nothing else to do and exits
    attempts = [codec.load(p.read_bytes()) for p in (queue.path / "attempts").iterdir()]
    assert [(a["task_id"], a["worker_id"]) for a in attempts] == [
        (tid, zombie_id)
    ] * 2  # reclaim, late result
    assert sorted(a.get("reason") or "" for a in attempts)[0] == "lease lost before the result was saved"
    again = labtasker.get_task(tid)
    assert (again.status, again.summary, again.retries) == ("success", {"by": "winner"}, 1)
    assert "was taken from worker " + zombie_id in procs.text("zombie")
