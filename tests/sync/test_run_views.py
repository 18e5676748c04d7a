"""The views of a run's record: what it ran with, and a deleted task's runs (core, TUI detail)."""

from __future__ import annotations

from pathlib import Path

import labtasker
from labtasker.api_models import Task
from labtasker.fsqueue import attempts, ran_with
from labtasker.tui import detail
from tests.sync.replicas import Replica


def test_a_claim_records_the_args_and_their_edit_generation(tmp_path: Path) -> None:
    r = Replica(tmp_path / "q", "node-a")
    tid = r.submit(args={"lr": 0.1, "bs": 32})
    r.edit(tid, {"args": {"lr": 0.2}})
    got = r.claim(tid)
    assert got is not None
    assert got.doc["ran_with"] == {"args": {"lr": 0.2, "bs": 32}, "gen": r.doc(tid)["clocks"]["args.lr"][0]}
    r.finish(got, "success", {"acc": 0.9})
    r.edit(tid, {"args": {"lr": 0.3}})
    task = Task.from_doc(r.doc(tid))
    assert task.args_changed and task.ran_with is not None and task.ran_with["args"]["lr"] == 0.2
    assert ran_with.differences(r.doc(tid)) == ["args.lr=0.2"]
    r.edit(tid, {"args": {"lr": 0.2}})  # back to what it ran with: nothing to say
    assert not Task.from_doc(r.doc(tid)).args_changed


def test_a_re_queue_starts_a_lifecycle_with_no_summary_and_keeps_the_old_one(tmp_path: Path) -> None:
    r = Replica(tmp_path / "q", "node-a")
    tid = r.submit(args={"lr": 0.1})
    r.run(tid, acc=0.5)
    r.requeue(tid)
    doc = r.doc(tid)
    assert (doc["dirname"], doc["summary"], "ran_with" in doc) == ("pending", {}, False)
    (kept,) = r.attempts(tid)
    assert (kept["summary"], kept["ran_with"]["args"]) == ({"acc": 0.5}, {"lr": 0.1})


def test_a_retried_failure_is_kept_with_its_error(tmp_path: Path) -> None:
    r = Replica(tmp_path / "q", "node-a")
    tid = r.submit(args={"lr": 0.1}, max_retries=3)
    r.run(tid, status="failed")
    (kept,) = r.attempts(tid)
    assert (kept["status"], kept["last_error"], kept["reason"]) == (
        "failed",
        "boom",
        "failed; will retry (2/3)",
    )
    assert r.doc(tid)["dirname"] == "pending"


def test_the_tui_detail_of_a_deleted_tasks_run_says_who_deleted_it_when(tmp_path: Path) -> None:
    r = Replica(tmp_path / "q", "node-a")
    tid = r.submit(args={"lr": 0.1})
    r.run(tid, acc=0.5)
    r.delete(tid)
    (name,) = attempts.names(r.queue, tid)
    shown = detail.load(r.queue, "attempts", name, [])
    assert shown.notes == ["task deleted by node-a at 2026-03-01 12:00:04+00:00"]
    assert [doc["summary"] for _, doc in shown.attempts] == [{"acc": 0.5}]


def test_the_tui_detail_of_a_result_says_when_args_changed_since(tmp_path: Path) -> None:
    r = Replica(tmp_path / "q", "node-a")
    tid = r.submit(args={"lr": 0.1})
    r.run(tid, acc=0.5)
    r.edit(tid, {"args": {"lr": 0.5}})
    (name,) = r.queue.names("done")
    assert detail.load(r.queue, "success", name, []).notes == [
        "result ran with args.lr=0.1; args changed since"
    ]


def test_a_failure_reported_from_outside_the_loop_keeps_the_run(project: Path) -> None:
    tid = labtasker.submit_task(args={"lr": 0.1}, max_retries=3).task_id
    got = labtasker.fetch_task(start_heartbeat=False)
    assert got.task is not None and got.task.task_id == tid
    labtasker.report_task_status(tid, "failed", summary={"loss": 9.9})
    assert labtasker.get_task(tid).status == "pending"
    (kept,) = labtasker.ls_attempts(tid)
    assert (kept.status, kept.summary, kept.ran_with) == (
        "failed",
        {"loss": 9.9},
        {"args": {"lr": 0.1}, "gen": 0},
    )


def test_results_put_a_metric_against_the_args_it_ran_with(project: Path) -> None:
    tid = labtasker.submit_task(args={"lr": 0.1}).task_id
    labtasker.submit_task(args={"lr": 0.2})
    for acc in (0.7, 0.8):
        got = labtasker.fetch_task(start_heartbeat=False)
        assert got.task is not None
        labtasker.report_task_status(got.task.task_id, "success", summary={"acc": acc})
    labtasker.update_tasks([labtasker.TaskUpdateRequest(task_id=tid, args={"lr": 0.5})])
    rows = labtasker.results(metrics="acc", sort="acc")
    assert [(r["lr"], r["acc"]) for r in rows] == [(0.1, 0.7), (0.2, 0.8)]
