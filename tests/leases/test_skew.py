"""Clock skew: a worker whose wall clock is an hour off is never reclaimed while it renews."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

import labtasker
from labtasker import config
from labtasker.fsqueue.store import FsQueue
from tests.leases.conftest import INTERVAL, TIMEOUT, WORKER, Procs, finished, state, wait_for

pytestmark = pytest.mark.slow

SKEWED = """
import os, sys
from datetime import timedelta
from labtasker.fsqueue import clock
real = clock.now
clock.now = lambda: real() + timedelta(seconds=float(os.environ["CLOCK_OFFSET"]))
"""
MONITOR = """
from labtasker.cli.server import main
sys.exit(main(["labtasker-server", "serve", "--interval", "0.1"]))
"""


def test_an_hour_of_skew_never_gets_a_renewing_worker_reclaimed(
    fast: Path, queue: FsQueue, procs: Procs
) -> None:
    settings = {"heartbeat_interval": INTERVAL, "heartbeat_timeout": TIMEOUT, "eta_max": 600}
    cfg = fast / ".labtasker" / "config.toml"
    cfg.write_text(config.render("default", loop=settings), encoding="utf-8")
    tid = labtasker.submit_task(args={"x": 1}, metadata={"mode": "slow"}).task_id  # 2 s: two timeouts
    procs.start(fast, [sys.executable, "-c", SKEWED + MONITOR], name="monitor", env={"CLOCK_OFFSET": "3600"})
    worker = procs.start(
        fast,
        [sys.executable, "-c", SKEWED + WORKER],
        name="worker",
        env={"CLOCK_OFFSET": "-3600", "WHO": "skewed"},
    )
    running = wait_for(lambda: state(queue, tid) == "running" and queue.find(tid), "the worker to claim")
    assert running.doc["lease"]["skew"] == pytest.approx(3600, abs=60)  # it knows its clock is behind
    assert time.time() - running.doc["start_time"].timestamp() == pytest.approx(3600, abs=60)
    assert finished(worker) == 0
    task = labtasker.get_task(tid)
    assert (task.status, task.retries, task.last_error) == ("success", 0, None)
    assert task.summary == {"by": "skewed"}
    assert "reclaimed" not in procs.text("monitor")
