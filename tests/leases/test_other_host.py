"""Leases of workers on another host: no lock to probe, clocks not shared, only watching tells."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

import labtasker
from labtasker.fsqueue import claim, lease, workers
from labtasker.fsqueue.store import FsQueue
from labtasker.worker import required
from tests.leases.conftest import INTERVAL, TIMEOUT, state

pytestmark = pytest.mark.usefixtures("fast")


def _claimed_elsewhere(queue: FsQueue) -> tuple[str, Path]:
    """A task run by a worker on another machine whose lease was stamped an hour ago."""
    workers.create(queue, worker_id="far.w1")
    tid = labtasker.submit_task(args={"x": 1}).task_id
    claimer = claim.Claimer(queue, "far.w1")
    claimer.fields = {
        "lease": lease.lease_info(
            lease.make_terms(INTERVAL, TIMEOUT), host="far-away/1234", lock="far.w1--0000", skew=0.0
        )
    }
    got = claimer.claim()
    assert got is not None
    path = queue.path / "running" / got.name
    old = time.time() - 3600
    os.utime(path, (old, old))
    return tid, path


def _loop() -> labtasker.worker.runner.Tally:
    return labtasker.api.run_loop(lambda run: None, required.build_tree(["x"]))


def test_a_dead_worker_elsewhere_is_reclaimed_after_one_timeout_of_watching(queue: FsQueue) -> None:
    tid, _ = _claimed_elsewhere(queue)
    started = time.monotonic()
    tally = _loop()  # nothing pending: the loop watches the suspect lease, then takes it back and runs it
    took = time.monotonic() - started
    assert tally.done == 1
    assert state(queue, tid) == "done"
    assert TIMEOUT <= took < TIMEOUT + 2
    assert "heartbeat lost" in labtasker.ls_attempts(tid)[0].last_error  # history: the run succeeded


def test_a_renewing_worker_elsewhere_is_left_alone_and_the_loop_still_ends(queue: FsQueue) -> None:
    """Its clock is an hour behind and stamps its lease (a filesystem keeping client times)."""
    tid, path = _claimed_elsewhere(queue)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(INTERVAL):
            stamp = time.time() - 3600
            os.utime(path, (stamp, stamp))

    renewer = threading.Thread(target=renew)
    renewer.start()
    try:
        started = time.monotonic()
        tally = _loop()
        took = time.monotonic() - started
    finally:
        stop.set()
        renewer.join()
    assert tally.total == 0
    assert state(queue, tid) == "running"
    assert took < TIMEOUT + 2  # it gave up watching instead of waiting forever


def _claimed_on_replica(queue: FsQueue, node: str) -> str:
    """A run that arrived from another replica (by git or rsync): its node renews it there."""
    tid, path = _claimed_elsewhere(queue)
    doc = queue.read("running", path.name)
    assert doc is not None
    raw = dict(doc, lease={**doc["lease"], "node": node})
    from labtasker.fsqueue import codec

    path.write_bytes(codec.dump(raw))
    old = time.time() - 3600
    os.utime(path, (old, old))
    return tid


def test_a_replica_leaves_other_nodes_runs_to_their_nodes(queue: FsQueue) -> None:
    from labtasker.fsqueue import reaper
    from labtasker.replicas import reconcile

    reconcile.reconcile(queue)  # what sync and reconcile do: mark this folder a replica
    tid = _claimed_on_replica(queue, "some-other-node")
    with reaper.Reaper(queue, lease.make_terms(INTERVAL, TIMEOUT), every=0) as sweeper:
        deadline = time.monotonic() + TIMEOUT + 1
        while time.monotonic() < deadline:
            assert sweeper.sweep().reclaimed == []
            time.sleep(INTERVAL)
    assert state(queue, tid) == "running"


def test_a_replica_still_reclaims_its_own_nodes_dead_runs(queue: FsQueue) -> None:
    from labtasker.fsqueue import reaper
    from labtasker.replicas import reconcile

    reconcile.reconcile(queue)
    tid = _claimed_on_replica(queue, queue.node)
    with reaper.Reaper(queue, lease.make_terms(INTERVAL, TIMEOUT), every=0) as sweeper:
        deadline = time.monotonic() + TIMEOUT + 2
        while state(queue, tid) == "running" and time.monotonic() < deadline:
            sweeper.sweep()
            time.sleep(INTERVAL)
    assert state(queue, tid) == "pending"
