"""SVG snapshots of the main screens (``pytest --snapshot-update`` rewrites them after a review).

Every screen is of a copy of sample_queue/ at the sample's fixed moment, at a
fixed terminal size, in UTC, so the pictures are the same on any machine.
"""

from __future__ import annotations

from typing import Any

import pytest

from labtasker.fsqueue.store import FsQueue
from tests.tui.conftest import SIZE, make_app, settle

pytestmark = pytest.mark.timeout(60)

FAILED_OOM = "019593e1-be80-7003-8dbd-06568db8df93"


def at(task_id: str | None = None, *keys: str) -> Any:
    """A run_before: settle, put the cursor on a task, press keys, settle again."""

    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        for box in pilot.app.query("Input"):  # a steady cursor: a blink's phase is the machine's speed
            box.cursor_blink = False
        if task_id is not None:
            table = pilot.app.query_one("#tasks")
            table.move_cursor(row=table.task_ids().index(task_id))
            await settle(pilot)
        if keys:
            await pilot.press(*keys)
            await settle(pilot)

    return run_before


def test_pending_in_claim_order(snap_compare: Any, sample: FsQueue) -> None:
    assert snap_compare(make_app(sample), terminal_size=SIZE, run_before=at())


def test_failed_task_with_its_traceback(snap_compare: Any, sample: FsQueue) -> None:
    app = make_app(sample, state="failed")
    assert snap_compare(app, terminal_size=SIZE, run_before=at(FAILED_OOM, "right_square_bracket"))


def test_running_task_log_followed(snap_compare: Any, sample: FsQueue) -> None:
    app = make_app(sample, state="running")
    assert snap_compare(app, terminal_size=SIZE, run_before=at(None, *["right_square_bracket"] * 3))


def test_successes_sorted_by_accuracy_read_only(snap_compare: Any, sample: FsQueue) -> None:
    from labtasker.tui.readonly import ReadOnlyQueue

    app = make_app(
        ReadOnlyQueue(sample.path, node="viewer"), read_only=True, state="success", metrics=["acc", "loss"]
    )
    assert snap_compare(app, terminal_size=SIZE, run_before=at(None, *["s"] * 4, "S"))


def test_bad_filter_explained_inline(snap_compare: Any, sample: FsQueue) -> None:
    app = make_app(sample, state="success")
    assert snap_compare(app, terminal_size=SIZE, run_before=at(None, "slash", *"summary.acc >> 0.9"))


def test_confirm_cancel_of_marked_tasks(snap_compare: Any, sample: FsQueue) -> None:
    app = make_app(sample)
    assert snap_compare(app, terminal_size=SIZE, run_before=at(None, "space", "space", "c"))


def test_help(snap_compare: Any, sample: FsQueue) -> None:
    assert snap_compare(make_app(sample), terminal_size=SIZE, run_before=at(None, "question_mark"))
