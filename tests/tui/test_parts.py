"""The TUI's non-screen parts on a copy of sample_queue: scans, details, actions, edits, events."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from labtasker.errors import UsageError
from labtasker.fsqueue.store import FsQueue
from labtasker.tui import actions, detail, scan
from labtasker.tui.readonly import ReadOnlyQueue
from tests.tui.make_sample import SAMPLE_NOW

FAILED_OOM = "019593e1-be80-7003-8dbd-06568db8df93"


def test_scan_counts_every_state_and_filters(sample: FsQueue) -> None:
    snap = scan.scan(sample, scan.View(state="success", expr="summary.acc > 0.9"), SAMPLE_NOW)
    assert snap.counts == {
        "pending": 7,
        "running": 3,
        "success": 15,
        "failed": 4,
        "cancelled": 3,
        "attempts": 1,
        "quarantine": 0,
    }
    assert snap.total == 15 and 0 < snap.shown < 15 and snap.error is None
    bad = scan.scan(sample, scan.View(state="success", expr="summary.acc >"), SAMPLE_NOW)
    assert bad.error is not None and bad.error.startswith("invalid filter") and bad.rows == []


def test_quarantined_files_are_listed_as_files(sample: FsQueue) -> None:
    (sample.path / "pending" / "100000000.20250314T090000000000Z--broken.yaml").write_text("task_id: [")
    assert scan.scan(sample, scan.View(state="pending"), SAMPLE_NOW).shown == 7  # reading moved it aside
    snap = scan.scan(sample, scan.View(state="quarantine"), SAMPLE_NOW)
    assert snap.counts["quarantine"] == 1
    (row,) = snap.rows
    assert row.key.startswith("pending--") and row.cells[1] == "10"
    shown = detail.load(sample, "quarantine", row.key, [])
    assert shown.text == "task_id: ["


def test_read_only_notes_an_unreadable_file_and_moves_nothing(sample: FsQueue) -> None:
    broken = sample.path / "pending" / "100000000.20250314T090000000000Z--broken.yaml"
    broken.write_text("task_id: [")
    queue = ReadOnlyQueue(sample.path, node="viewer")
    snap = scan.scan(queue, scan.View(state="pending"), SAMPLE_NOW)
    assert snap.shown == 7 and broken.exists()
    assert list(queue.unreadable) == [f"pending/{broken.name}"]
    out = actions.cancel(queue, [FAILED_OOM], SAMPLE_NOW)
    assert out.done == [] and "read-only" in out.failed[0][1]
    assert queue.find(FAILED_OOM).dirname == "failed"  # type: ignore[union-attr]


def test_run_log_is_the_latest_run_and_its_tail(sample: FsQueue, tmp_path: Path) -> None:
    dirs = detail.log_dirs_for(sample.path)
    path = detail.find_run_log(dirs, FAILED_OOM)
    assert path is not None and path.parent.name.startswith("20250314T1138")  # third of three runs
    big = tmp_path / "run.log"
    big.write_text("".join(f"line {i}\n" for i in range(50_000)))
    text = detail.tail(big, max_lines=300)
    assert text.splitlines()[-1] == "line 49999" and len(text.splitlines()) == 300
    assert detail.find_run_log(dirs, "no-such-task") is None


def test_log_dirs_include_the_roots_logs(tmp_path: Path) -> None:
    queue_dir = tmp_path / ".labtasker" / "queues" / "default"
    assert detail.log_dirs_for(queue_dir, [tmp_path / "x"]) == [
        tmp_path / "x",
        queue_dir / "logs",
        tmp_path / ".labtasker" / "logs",
    ]


def test_outcome_message_names_the_first_failure() -> None:
    outcome = actions.Outcome("cancelled", done=["a"], failed=[("b", "gone"), ("c", "gone")])
    assert outcome.message() == "cancelled 1 of 3 tasks; b: gone (and 1 more)"
    assert actions.Outcome("deleted", done=["a"]).message() == "deleted 1 task"


def test_actions_use_the_core_and_report_each_task(sample: FsQueue) -> None:
    out = actions.requeue(sample, [FAILED_OOM, "missing-id"], SAMPLE_NOW)
    assert out.done == [FAILED_OOM] and out.failed[0][0] == "missing-id"
    found = sample.find(FAILED_OOM)
    assert found is not None and found.dirname == "pending" and found.doc["retries"] == 0
    out = actions.set_priority(sample, [FAILED_OOM], 7, SAMPLE_NOW)
    assert sample.find(FAILED_OOM).name.startswith("099999993.")  # type: ignore[union-attr]


def test_edit_text_round_trip_for_one_task() -> None:
    doc = {
        "task_id": "t1",
        "task_name": "a",
        "priority": 0,
        "max_retries": 3,
        "args": {"lr": 0.1, "model": "vit"},
        "metadata": {"tags": ["v1"]},
    }
    text = actions.edit_text([doc])
    assert text.startswith("# Editing task t1.")
    assert actions.parse_edit(text, [doc]) == ({}, ())
    fields, replace = actions.parse_edit(text.replace("lr: 0.1\n", ""), [doc])  # type: ignore[misc]
    assert fields == {"args": {"model": "vit"}} and replace == ("args",)


def test_edit_text_for_several_tasks_is_a_merge_patch() -> None:
    docs = [{"task_id": "a"}, {"task_id": "b"}]
    text = actions.edit_text(docs)
    assert "Editing 2 tasks" in text
    patched = text.replace("args: {}", "args:\n  lr: 0.5").replace(
        "metadata: {}", "metadata: {}\npriority: 3"
    )
    assert actions.parse_edit(patched, docs) == ({"args": {"lr": 0.5}, "priority": 3}, ())


@pytest.mark.parametrize(("text", "problem"), [
    ("args: [1, 2]\n", "args must be a mapping"),
    ("status: failed\n", "cannot edit status"),
    ("args: {\n", "not a YAML mapping"),
])  # fmt: skip
def test_bad_edits_change_nothing_and_say_why(text: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        actions.parse_edit(text, [{"task_id": "t"}])


def test_an_emptied_edit_cancels() -> None:
    assert actions.parse_edit("# only a comment\n\n", [{"task_id": "t"}]) is None


def test_priority_must_be_a_whole_number() -> None:
    assert actions.parse_priority(" -3 ") == -3
    with pytest.raises(UsageError, match="whole number"):
        actions.parse_priority("high")


def test_watcher_sees_files_come_and_go_but_not_tmp(tmp_path: Path) -> None:
    from labtasker.tui.watch import QueueWatcher

    for name in ("pending", "done", "tmp"):
        (tmp_path / name).mkdir()
    seen = threading.Event()
    w = QueueWatcher(tmp_path, seen.set)
    w.start()
    try:
        (tmp_path / "tmp" / "w.1.tmp").write_text("x")  # a write under way: not a change
        assert not seen.wait(0.5)
        os.rename(tmp_path / "tmp" / "w.1.tmp", tmp_path / "pending" / "x.yaml")
        assert seen.wait(5)
        seen.clear()
        os.rename(tmp_path / "pending" / "x.yaml", tmp_path / "done" / "x.yaml")
        assert seen.wait(5)
    finally:
        w.stop()
    assert not (tmp_path / "running").exists()  # a folder the queue lacks is not made


def test_the_log_tab_tells_a_silent_run_from_one_not_run_yet() -> None:
    from labtasker.tui.widgets.detail import DetailPane

    ran = detail.Detail("success", "a.yaml", doc={"start_time": SAMPLE_NOW})
    waiting = detail.Detail("pending", "b.yaml", doc={"start_time": None})
    assert DetailPane._log_of(None, ran).plain == "no run.log: this task's runs printed nothing"  # type: ignore[arg-type]
    assert DetailPane._log_of(None, waiting).plain == "no run.log found for this task"  # type: ignore[arg-type]
