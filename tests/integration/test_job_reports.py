"""A job started as a subprocess of the loop reports metrics and its own final status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import labtasker
from labtasker.worker import required, runner

CHILD = """
import os, sys, labtasker
tid = os.environ["LABTASKER_TASK_ID"]
labtasker.report_task_status(tid, "running", summary={"acc": 0.5, "step": 1})
if sys.argv[1] != "running":
    labtasker.report_task_status(tid, sys.argv[1])
"""


def run_child(status: str) -> runner.Tally:
    def job(run: runner.Run) -> None:
        subprocess.run([sys.executable, "-c", CHILD, status], env={**os.environ, **run.env()}, check=True)

    return labtasker.api.run_loop(job, required.build_tree(["x"]))


@pytest.mark.parametrize(
    ("asked", "state", "outcome"),
    [
        ("running", "success", "done"),
        ("cancelled", "cancelled", "cancelled"),
        ("failed", "pending", "failed"),
    ],
)
def test_subprocess_reports_reach_the_task(project: Path, asked: str, state: str, outcome: str) -> None:
    tid = labtasker.submit_task(args={"x": 1}, max_retries=2).task_id
    tally = run_child(asked) if asked != "failed" else _one_attempt(asked)
    task = labtasker.get_task(tid)
    assert task.status == state and task.summary["acc"] == 0.5
    assert tally.history[0] == (tid, outcome)
    files = (project / ".labtasker" / "queues" / "default").rglob("*.yaml")
    assert not any("requested_status" in f.read_text() for f in files)  # consumed when applied


def _one_attempt(asked: str) -> runner.Tally:
    def job(run: runner.Run) -> None:
        subprocess.run([sys.executable, "-c", CHILD, asked], env={**os.environ, **run.env()}, check=True)

    return labtasker.api.run_loop(job, required.build_tree(["x"]), max_tasks=1)


def test_a_report_after_the_run_was_taken_away_is_a_clear_error(project: Path, monkeypatch) -> None:
    tid = labtasker.submit_task(args={"x": 1}).task_id
    monkeypatch.setenv("LABTASKER_TASK_ID", tid)
    monkeypatch.setenv("LABTASKER_WORKER_ID", "gone-worker")
    monkeypatch.setenv("LABTASKER_QUEUE_DIR", str(labtasker.api.context().queue.path))
    with pytest.raises(labtasker.errors.LeaseLost, match="nothing was written"):
        labtasker.report_task_status(tid, "running", summary={"acc": 1})
    assert labtasker.get_task(tid).summary == {}


def test_a_job_that_finishes_its_task_itself_clears_the_failure_count(project: Path) -> None:
    """Three failures spread among successes reported with finish("success") do not crash the worker."""
    for x in range(12):
        labtasker.submit_task(args={"x": x}, max_retries=1)

    @labtasker.loop(exit_on_crash=False, quiet=True)
    def job(x: int = labtasker.Required()) -> None:
        if x % 4 == 1:  # x = 1, 5, 9: tasks are left after the third failure
            raise RuntimeError(f"bad x={x}")
        labtasker.finish("success")

    tally = job()
    assert not tally.crashed
    assert tally.total == 12
    assert len(labtasker.ls_tasks(status="success").content) == 9
