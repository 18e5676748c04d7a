"""A done task is finished on a thread while the loop claims the next one (worker/finish_behind.py).

Nothing of it may show: each job starts with the tasks before it done on disk,
``max_tasks`` counts a finish under way, a loop that waits for work reports its
last task first, and a finish that fails hands the task claimed meanwhile back.
The loop keeps the faster of finishing in line and behind; the tests force each.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import pytest

import labtasker
from labtasker.fsqueue import faults, layout
from labtasker.fsqueue.store import FsQueue
from labtasker.replicas.fsck import fsck
from labtasker.worker import finish_behind
from labtasker.worker.finish_behind import BEHIND, IN_LINE, Chooser, FinishBehind
from tests.leases.conftest import Procs, finished, state, wait_for
from tests.reliability.test_faults import _listed_elsewhere, _stopped

# A Python loop whose every finish goes behind the next claim.
BEHIND_LOOP = """
import labtasker
from labtasker.worker.finish_behind import BEHIND, Chooser

Chooser.way = lambda self: BEHIND


@labtasker.loop()
def main(i: int = labtasker.Required()):
    pass


main()
"""


def _on_disk(queue: FsQueue, dirname: str) -> list[str]:
    return sorted(n for n in os.listdir(queue.path / dirname) if n.endswith(layout.SUFFIX))


@pytest.fixture(params=[IN_LINE, BEHIND])
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every finish of the loop goes this way."""
    monkeypatch.setattr(Chooser, "way", lambda self: request.param)
    return str(request.param)


def test_each_job_starts_with_the_tasks_before_it_done_on_disk(queue: FsQueue, way: str) -> None:
    ids = [labtasker.submit_task(args={"i": i}).task_id for i in range(6)]
    seen: list[tuple[int, int, int]] = []

    @labtasker.loop()
    def job(i: int = labtasker.Required()) -> None:
        seen.append((i, len(_on_disk(queue, "done")), len(_on_disk(queue, "running"))))

    tally = job()
    assert seen == [(i, i, 1) for i in range(6)]  # all before it done, only itself running
    assert tally.done == 6 and [labtasker.get_task(t).status for t in ids] == ["success"] * 6
    assert _on_disk(queue, "running") == [] and fsck(queue).clean


def test_max_tasks_counts_a_finish_under_way(queue: FsQueue, way: str) -> None:
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
    monkeypatch.setattr(Chooser, "way", lambda self: BEHIND)
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
    tid = labtasker.submit_task(args={"i": 7}).task_id
    waiting = BEHIND_LOOP.replace("@labtasker.loop()", "@labtasker.loop(wait=True)")
    loop = procs.start(project, [sys.executable, "-c", waiting], name="loop")
    wait_for(
        lambda: f"task {tid} done" in procs.text("loop", "err"), "the loop to report the task", timeout=30
    )
    assert state(queue, tid) == "done" and loop.poll() is None  # reported, and still waiting
    loop.send_signal(signal.SIGINT)
    assert finished(loop, timeout=10) == 130


@pytest.mark.slow
def test_killed_while_a_finish_is_behind_no_task_is_lost(
    project: Path, fast: Path, queue: FsQueue, procs: Procs
) -> None:
    ids = [labtasker.submit_task(args={"i": i}).task_id for i in range(3)]
    env = {"LABTASKER_FAULT": "held:stop:running:1"}  # the first finish, its file just taken
    loop = procs.start(project, [sys.executable, "-c", BEHIND_LOOP], name="loop", env=env)
    wait_for(lambda: _stopped(loop.pid) or loop.poll() is not None, "the loop to stop in its first finish")
    assert loop.poll() is None, procs.text("loop")
    held = queue.find(ids[0])
    assert held is not None and held.busy  # its finish is half-way: the file in hand
    listed = _listed_elsewhere(project)  # mid-finish, the next claim perhaps half-way: all listed
    assert sorted(line.split()[0] for line in listed) == sorted(ids)
    loop.kill()
    loop.wait(timeout=10)
    for tid in ids:  # each one back in place, none in hand
        found = queue.find(tid)
        assert found is not None and not found.busy, tid

    @labtasker.loop()
    def again(i: int = labtasker.Required()) -> None:
        pass

    again()  # the dead loop's tasks come back to the next one
    assert [labtasker.get_task(t).status for t in ids] == ["success"] * 3
    assert not [n for n in os.listdir(queue.tmp) if n.startswith(("held.", "w."))]
    assert fsck(queue).clean


def test_the_loop_keeps_the_faster_way_and_looks_at_the_other_now_and_then() -> None:
    chooser = Chooser()
    ways = []
    for _ in range(finish_behind.BLOCK * finish_behind.RECHECK * 2):
        way = chooser.way()
        ways.append(way)
        chooser.record(way, 0.002 if way == IN_LINE else 0.001)  # behind is faster here
    block = finish_behind.BLOCK
    assert ways[:block] == [IN_LINE] * block and ways[block : 2 * block] == [BEHIND] * block
    later = ways[2 * block :]
    assert later.count(IN_LINE) == 2 * block  # one block in line every RECHECK blocks, no more
    assert later.count(BEHIND) == len(later) - 2 * block


def test_the_loop_changes_way_when_the_disk_does() -> None:
    chooser = Chooser()
    cost = {IN_LINE: 0.001, BEHIND: 0.002}  # a quick disk: in line is faster

    def run(tasks: int) -> list[str]:
        done = []
        for _ in range(tasks):
            way = chooser.way()
            done.append(way)
            chooser.record(way, cost[way])
        return done

    block = finish_behind.BLOCK
    before = run(block * finish_behind.RECHECK)
    assert before.count(BEHIND) == 2 * block  # the first look, and one look back
    cost.update({IN_LINE: 0.003, BEHIND: 0.002})  # the disk slowed down
    after = run(block * finish_behind.RECHECK)
    assert after[2 * block : 3 * block] == [BEHIND] * block  # in line's fresh times outweigh its old ones
    assert after.count(IN_LINE) <= 3 * block  # those two blocks, and one look back


def test_a_finish_in_line_returns_its_outcome_and_one_behind_is_settled_later() -> None:
    finishing = FinishBehind()
    threads: list[str] = []

    def finish() -> str:
        threads.append(threading.current_thread().name)
        return "done"

    try:
        finishing.chooser.way = lambda: IN_LINE  # type: ignore[method-assign]
        assert finishing.start(finish, run=None, took=0.0, left=(0, 0)) == "done"
        assert finishing.settle() is None and not finishing.busy
        finishing.chooser.way = lambda: BEHIND  # type: ignore[method-assign]
        assert finishing.start(finish, run=None, took=0.5, left=(3, 0)) is None and finishing.busy
        settled = finishing.settle()
        assert (
            settled is not None
            and settled[1] == "done"
            and (settled[0].took, settled[0].left) == (0.5, (3, 0))
        )
        assert threads[0] == threading.current_thread().name and threads[1].startswith("labtasker-finish")
        assert finishing.chooser.finishes == 2  # both timed

        def broken() -> str:
            raise OSError(28, "No space left on device")

        finishing.start(broken, run=None, took=0.0, left=(0, 0))
        with pytest.raises(OSError, match="No space left"):
            finishing.settle()
        assert not finishing.busy
    finally:
        finishing.close()
