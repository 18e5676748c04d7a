"""Several sweepers on one stale task: one reclaim, one retry, one failure counted."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path

import pytest

import labtasker
from labtasker.fsqueue import claim, lease, locking, workers
from labtasker.fsqueue.reaper import Reaper
from labtasker.fsqueue.store import FsQueue
from tests.conftest import race
from tests.leases.conftest import Procs, state, wait_for

TERMS = lease.Terms(0.2, 1.0)


def _stale_tasks(queue: FsQueue, n: int, worker: str = "n1.dead") -> list[str]:
    """``n`` tasks claimed by ``worker`` on this host, last renewed an hour ago, no lock to probe."""
    workers.create(queue, worker_id=worker, max_retries=1000)
    ids = [labtasker.submit_task(args={"x": i}).task_id for i in range(n)]
    claimer = claim.Claimer(queue, worker)
    claimer.fields = {"lease": lease.lease_info(TERMS, host=locking.host_key(), lock=None, skew=0.0)}
    old = time.time() - 3600
    for _ in ids:
        got = claimer.claim()
        assert got is not None
        os.utime(queue.path / "running" / got.name, (old, old))
    return ids


def _sweep(path: str, node: str, out: str, start: mp.Event) -> None:  # type: ignore[valid-type]
    reaper = Reaper(FsQueue(path, node=node), TERMS, by=node)
    start.wait()
    reclaimed = reaper.sweep().reclaimed
    Path(out).write_text("\n".join(r.task_id for r in reclaimed))


@pytest.mark.slow
def test_racing_sweepers_reclaim_each_stale_task_once(queue: FsQueue, tmp_path: Path) -> None:
    ids = _stale_tasks(queue, 30)
    outs = [tmp_path / f"sweeper-{i}.txt" for i in range(4)]
    race(_sweep, [(str(queue.path), f"m{i}", str(out)) for i, out in enumerate(outs)], timeout=60)
    reclaimed = [line for out in outs for line in out.read_text().split("\n") if line]
    assert sorted(reclaimed) == sorted(ids)  # every task once, by exactly one sweeper
    assert {labtasker.get_task(t).retries for t in ids} == {1}
    assert {state(queue, t) for t in ids} == {"pending"}
    assert workers.get(queue, "n1.dead")["retries"] == 30  # one failure per task, not per sweeper


@pytest.mark.slow
def test_racing_monitors_on_one_queue(fast: Path, queue: FsQueue, procs: Procs) -> None:
    ids = _stale_tasks(queue, 10)
    for i in range(3):
        procs.monitor(fast, name=f"monitor{i}")
    wait_for(lambda: all(state(queue, t) == "pending" for t in ids), "the monitors to reclaim every task")
    time.sleep(0.3)  # a few more sweeps by each: nothing is reclaimed twice
    assert {labtasker.get_task(t).retries for t in ids} == {1}
    logs = "".join(procs.text(f"monitor{i}") for i in range(3))
    assert sorted(t for t in ids for _ in range(logs.count(f"reclaimed task {t}"))) == sorted(ids)


def test_a_renewal_inside_the_steal_window_gives_the_task_back(queue: FsQueue) -> None:
    (tid,) = _stale_tasks(queue, 1)
    reaper = Reaper(queue, TERMS)
    name = queue.names("running")[0]  # a sweeper looks: the lease is stale...
    path = queue.path / "running" / name
    seen = os.stat(path)
    doc = queue.read("running", name)
    os.utime(path)  # ...then the owner renews before the take
    verdict = lease.Verdict(True, "heartbeat lost", "test")
    assert reaper._reclaim(name, doc, seen, verdict, labtasker.api._now()) is None
    assert queue.names("running") == [name]
    assert labtasker.get_task(tid).retries == 0
    assert not [n for n in os.listdir(queue.tmp) if n.startswith("held.")]
