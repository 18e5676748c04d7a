"""The lease keeper: renews, notices a lost lease, gives up in time on a hung filesystem, enforces eta."""

from __future__ import annotations

import os
import threading
import time

import labtasker
from labtasker.fsqueue import claim
from labtasker.fsqueue.store import FsQueue
from labtasker.worker.lease_keeper import ETA, FENCED, LOST, KeeperThread, LeaseKeeper
from tests.leases.conftest import wait_for


class Stops:
    """Records the keeper's calls to stop the job, with when they came."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, float]] = []

    def __call__(self, kind: str, reason: str) -> None:
        self.calls.append((kind, reason, time.monotonic()))

    @property
    def kinds(self) -> list[str]:
        return [kind for kind, _, _ in self.calls]


def _claimed(queue: FsQueue) -> str:
    labtasker.submit_task(args={"x": 1})
    got = claim.Claimer(queue, "w1").claim()
    assert got is not None
    return got.name


def test_it_renews_the_lease(queue: FsQueue) -> None:
    name = _claimed(queue)
    path = queue.path / "running" / name
    before = os.stat(path).st_mtime_ns
    stops = Stops()
    with LeaseKeeper(queue, name, 0.05, 0.5, on_stop=stops) as keeper:
        wait_for(lambda: keeper.renewals >= 3, "three renewals")
    assert os.stat(path).st_mtime_ns > before
    assert stops.calls == []


def test_a_task_taken_away_stops_the_job(queue: FsQueue) -> None:
    name = _claimed(queue)
    stops = Stops()
    with LeaseKeeper(queue, name, 0.05, 5.0, on_stop=stops) as keeper:
        os.rename(queue.path / "running" / name, queue.path / "cancelled" / name)  # cancelled from outside
        wait_for(lambda: stops.calls, "the keeper to notice")
    assert stops.kinds == [LOST]
    assert keeper.lost.is_set()
    assert "cancelled, reclaimed or deleted" in keeper.reason


def test_a_hung_filesystem_stops_the_job_before_the_lease_may_be_taken(queue: FsQueue) -> None:
    name = _claimed(queue)
    stops = Stops()
    hung = threading.Event()
    started = time.monotonic()
    with LeaseKeeper(queue, name, 0.1, 0.4, on_stop=stops, touch=lambda: hung.wait(30), started=started):
        wait_for(lambda: stops.calls, "the keeper to give up")
    hung.set()
    kind, reason, at = stops.calls[0]
    assert kind == FENCED
    assert "could not be renewed for 0.4s" in reason
    assert 0.4 <= at - started < 0.6  # on its own deadline, although the renewal never returned


def test_eta_stops_the_job_but_the_lease_is_still_renewed(queue: FsQueue) -> None:
    name = _claimed(queue)
    stops = Stops()
    with LeaseKeeper(queue, name, 0.05, 0.5, eta=0.2, on_stop=stops) as keeper:
        wait_for(lambda: stops.calls, "eta")
        renewed = keeper.renewals
        wait_for(lambda: keeper.renewals > renewed + 2, "renewals after eta")
    assert stops.kinds == [ETA]
    assert not keeper.lost.is_set()


def test_a_run_that_ended_is_not_reported_lost(queue: FsQueue) -> None:
    name = _claimed(queue)
    stops = Stops()
    keeper = LeaseKeeper(queue, name, 0.05, 5.0, on_stop=stops)
    with keeper:
        keeper.stop()  # the run ended on its own (e.g. the job reported its final status)
        os.rename(queue.path / "running" / name, queue.path / "done" / name)
        time.sleep(0.2)
    assert stops.calls == []
    assert not keeper.lost.is_set()


def test_one_thread_keeps_the_leases_of_a_loops_successive_runs(queue: FsQueue) -> None:
    stops = Stops()
    before = set(threading.enumerate())  # another test's keeper may still be winding down in this process
    with KeeperThread() as keeping:
        for _ in range(3):
            name = _claimed(queue)
            with LeaseKeeper(queue, name, 0.05, 5.0, on_stop=stops, thread=keeping) as keeper:
                wait_for(lambda: keeper.renewals >= 2, "two renewals")
                lease_threads = [
                    t for t in threading.enumerate() if t.name == "labtasker-lease" and t not in before
                ]
                assert len(lease_threads) == 1
            os.rename(queue.path / "running" / name, queue.path / "done" / name)  # finished
        time.sleep(0.2)  # the last keeper would notice its file gone here, had it not been stopped
    assert stops.calls == []


def test_a_shared_thread_keeps_an_early_deadline_of_the_next_run(queue: FsQueue) -> None:
    stops = Stops()
    with KeeperThread() as keeping:
        name = _claimed(queue)
        with LeaseKeeper(queue, name, 30.0, 90.0, on_stop=stops, thread=keeping):
            time.sleep(0.05)  # its keeper now sleeps until the first renewal, 30 s away
        os.rename(queue.path / "running" / name, queue.path / "done" / name)
        name = _claimed(queue)
        started = time.monotonic()
        with LeaseKeeper(queue, name, 30.0, 90.0, eta=0.2, on_stop=stops, thread=keeping, started=started):
            wait_for(lambda: stops.calls, "eta")
    kind, _, at = stops.calls[0]
    assert kind == ETA
    assert 0.2 <= at - started < 1.0
