"""A done task's finish, written on a thread of its own while the loop claims the next task.

A no-op task costs a loop two durable writes, its claim and its finish, and
each waits on the disk (an ``fsync``). Done one after the other, the disk is
idle while Python works and Python idle while the disk does; overlapped, the
finish's wait hides behind the next claim. Nothing is acknowledged early: the
loop settles the finish (waits for it, counts it, prints its line) before the
next job starts, before it waits for new work, and before it returns or
raises. Only a job that returned normally is finished this way; failures,
stops and jobs that reported their own end keep the plain order, as their
outcome decides what the loop does next.

Handing a finish to the thread and back is not free (wake-ups, and the two
threads passing the interpreter's lock: about 0.25 ms a task on a 2-core
virtual machine), which a disk with cheap writes (a RAM disk, a fast local
SSD) does not win back. So the loop times both ways, from a job's end to the
next claim settled, and keeps the faster (``Chooser``): a few tasks each way
first, then a few the other way every few hundred, as a disk's speed drifts.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from labtasker.worker.attempt import Run

log = logging.getLogger("labtasker")

IN_LINE, BEHIND = "in line", "behind"
BLOCK = 8  # tasks timed one way in a row
RECHECK = 32  # every this many blocks, one block goes the other way


@dataclass
class Chooser:
    """Which way to finish the next task: the way whose recent tasks took less time (pure)."""

    finishes: int = 0
    took: dict[str, list[float]] = field(default_factory=lambda: {IN_LINE: [], BEHIND: []})

    def way(self) -> str:
        block = self.finishes // BLOCK
        if block < 2:  # one block each way to begin with
            return (IN_LINE, BEHIND)[block]
        best = min((IN_LINE, BEHIND), key=lambda w: statistics.median(self.took[w] or [0.0]))
        if block % RECHECK == RECHECK - 1:  # now and then the other way, as the disk's speed drifts
            return BEHIND if best == IN_LINE else IN_LINE
        return best

    def record(self, way: str, seconds: float) -> None:
        """A task finished ``way`` took ``seconds`` from its job's end to the next claim settled."""
        self.finishes += 1
        times = self.took[way]
        times.append(seconds)
        del times[: -2 * BLOCK]  # the latest two blocks' worth


@dataclass
class Finishing:
    """A finish under way, and what the loop needs to report it once settled."""

    future: Future[str]
    run: Run  # whose task is being finished
    took: float  # seconds its job took
    left: tuple[int, int]  # the claimer's count of tasks left, taken before the next claim


class FinishBehind:
    """At most one finish at a time, on one thread kept for the loop's life, or in line."""

    def __init__(self) -> None:
        self.chooser = Chooser()
        self._pool: ThreadPoolExecutor | None = None
        self._current: Finishing | None = None
        self._timing: tuple[str, float] | None = None  # the way the last finish went, and when it began

    @property
    def busy(self) -> bool:
        return self._current is not None

    def start(self, finish: Callable[[], str], run: Run, took: float, left: tuple[int, int]) -> str | None:
        """Begin ``finish`` on the thread (None), or run it now and return its outcome.

        The previous finish must have been settled.
        """
        assert self._current is None, "settle the last finish before starting another"
        way = self.chooser.way()
        self._timing = (way, time.perf_counter())
        if way == IN_LINE:
            return finish()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="labtasker-finish")
        self._current = Finishing(self._pool.submit(finish), run, took, left)
        return None

    def settle(self) -> tuple[Finishing, str] | None:
        """Wait for the finish under way: (it, its outcome); its error is raised here. None if idle."""
        current, self._current = self._current, None
        settled = None if current is None else (current, current.future.result())
        if self._timing is not None:  # in line or not, the last finish and the claim after it are over
            way, began = self._timing
            self._timing = None
            self.chooser.record(way, time.perf_counter() - began)
        return settled

    def close(self) -> None:
        """Wait for a finish still under way (its error logged: another one is on its way out)."""
        try:
            if self._current is not None:
                error = self._current.future.exception()  # waits for it
                if error is not None:
                    log.error("task %s: its finish failed: %s", self._current.run.task_id, error)
        finally:
            self._current = None
            if self._pool is not None:
                self._pool.shutdown()
