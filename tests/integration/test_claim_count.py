"""What a loop's progress line says is left: the tasks it can run, counted once per listing."""

from __future__ import annotations

import time
from pathlib import Path

from labtasker.fsqueue import claim, tasks
from labtasker.fsqueue.store import FsQueue


def test_left_counts_runnable_tasks_and_stays_cheap_between_listings(tmp_path: Path) -> None:
    queue = FsQueue.create(tmp_path / "q", "count", node="n1")
    tasks.submit_many(queue, [{"args": {"i": i, "gpu": i % 4 == 0}} for i in range(2000)])
    claimer = claim.Claimer(queue, "w1", accept=lambda doc: not doc["args"]["gpu"])
    assert claimer.runnable() == (1500, 500)
    start = time.perf_counter()
    for left in range(1499, 1399, -1):
        got = claimer.claim()
        assert got is not None and not got.doc["args"]["gpu"]
        tasks.finish(queue, got.name, "success")
        assert claimer.runnable(relist=False) == (left, 500)
    per_task = (time.perf_counter() - start) / 100
    assert claimer.runnable() == (1400, 500)  # a fresh listing agrees
    assert per_task < 0.02  # no walk over every pending name per task
