"""A done task's finish, written on a thread of its own while the loop claims the next task.

A no-op task costs a loop two durable writes, its claim and its finish, and
each waits on the disk (an ``fsync``). Done one after the other, the disk is
idle while Python works and Python idle while the disk does; overlapped, the
finish's wait hides behind the next claim (and the two ``fsync``s often share
one journal commit). Nothing is acknowledged early: the loop settles the
finish (waits for it, counts it, prints its line) before the next job starts,
before it waits for new work, and before it returns or raises. Only a job
that returned normally is finished this way; failures, stops and jobs that
reported their own end keep the plain order, as their outcome decides what
the loop does next.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("labtasker")


@dataclass
class Finishing:
    """A finish under way, and what the loop needs to report it once settled."""

    future: Future[str]
    run: Any  # the Run whose task is being finished
    took: float  # seconds its job took
    left: tuple[int, int]  # the claimer's count of tasks left, taken before the next claim


class FinishBehind:
    """At most one finish at a time, on one thread kept for the loop's life."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._current: Finishing | None = None

    @property
    def busy(self) -> bool:
        return self._current is not None

    def start(self, finish: Callable[[], str], run: Any, took: float, left: tuple[int, int]) -> None:
        """Begin ``finish`` (it returns the outcome); the previous one must have been settled."""
        assert self._current is None, "settle the last finish before starting another"
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="labtasker-finish")
        self._current = Finishing(self._pool.submit(finish), run, took, left)

    def settle(self) -> tuple[Finishing, str] | None:
        """Wait for the finish under way: (it, its outcome); its error is raised here. None if idle."""
        current, self._current = self._current, None
        if current is None:
            return None
        return current, current.future.result()

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
