"""A loop's tally counts tasks by their last outcome, attempts in brackets, however long the loop."""

from __future__ import annotations

import time

from labtasker.worker.loop_report import tally_text
from labtasker.worker.runner import Tally


def test_tasks_count_by_their_last_attempt_and_attempts_follow_them() -> None:
    tally = Tally()
    tally.history += [("a", "failed"), ("b", "done")]
    assert (tally.done, tally.failed) == (1, 1)
    tally.history += [("a", "failed"), ("a", "done"), ("c", "failed")]
    assert (tally.done, tally.failed, tally.attempts) == (2, 1, 5)
    assert tally.attempts_ending("done") == 4  # a's three attempts and b's one
    assert tally_text(tally) == "2 done (4 attempts), 1 failed"


def test_a_count_after_each_of_many_tasks_stays_cheap() -> None:
    tally = Tally()
    start = time.perf_counter()
    for i in range(20_000):
        tally.history.append((f"t{i}", "done"))
        assert tally.done == i + 1
    assert time.perf_counter() - start < 2.0  # a count that rescanned the history would take minutes
