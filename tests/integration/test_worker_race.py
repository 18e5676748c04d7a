"""A worker document changed by several processes at once keeps every change."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from labtasker.errors import WorkerNotFound
from labtasker.fsqueue import workers
from labtasker.fsqueue.store import FsQueue
from tests.conftest import race

N_PROCS = 4
EACH = 40


def _count_failures(path: str, worker_id: str, start: mp.Event) -> None:  # type: ignore[valid-type]
    queue = FsQueue(path, node="n1")
    start.wait()
    for _ in range(EACH):
        workers.record_failure(queue, worker_id)  # a miss would raise WorkerNotFound and fail the race


def test_failures_counted_by_racing_processes_all_land(tmp_path: Path) -> None:
    queue = FsQueue.create(tmp_path / "q", "race", node="n1")
    wid = workers.create(queue, max_retries=10_000)["worker_id"]
    race(_count_failures, [(str(queue.path), wid) for _ in range(N_PROCS)])
    assert workers.get(queue, wid)["retries"] == N_PROCS * EACH
    assert not list((queue.path / "tmp").glob("held.*"))


def test_a_worker_that_never_existed_is_not_found_at_once(tmp_path: Path) -> None:
    queue = FsQueue.create(tmp_path / "q", "race", node="n1")
    with pytest.raises(WorkerNotFound, match="no worker with id 'n1.nope'"):
        workers.set_status(queue, "n1.nope", "suspended")
