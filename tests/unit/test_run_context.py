"""The run context: what a loop hands its job through the environment, and what the job reads back."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

import labtasker
from labtasker import run_context
from labtasker.api_models import Task
from labtasker.fsqueue.documents import new_task

NOW = datetime(2026, 3, 1, 12, 30, tzinfo=timezone.utc)


def test_a_job_started_by_a_loop_knows_its_own_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = run_context.job_env("t1", "w1", tmp_path / "log", tmp_path / "queue")
    assert set(env) == {
        "LABTASKER_TASK_ID",
        "LABTASKER_WORKER_ID",
        "LABTASKER_LOG_DIR",
        "LABTASKER_QUEUE_DIR",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert run_context.own_job("t1") == run_context.OwnJob("t1", "w1", tmp_path / "queue")
    assert run_context.own_job("t2") is None  # another task: not this job's to report on
    assert labtasker.current_task_id() == "t1" and labtasker.current_worker_id() == "w1"
    assert labtasker.is_enabled() and labtasker.get_labtasker_log_dir() == tmp_path / "log"
    monkeypatch.delenv("LABTASKER_WORKER_ID")
    assert run_context.own_job("t1") is None


def test_task_info_json_carries_the_task_with_its_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = new_task(task_id="t1", now=NOW, node="n", task_name="grid", args={"lr": 0.1, "opt": {"m": 0.9}})
    task = Task.from_doc(dict(doc, status="running", worker_id="w1", start_time=NOW))
    run_context.write_task_info(tmp_path, task, "w1")
    monkeypatch.setenv("LABTASKER_LOG_DIR", str(tmp_path))
    back = labtasker.task_info()
    assert back == task and back.start_time == NOW and back.args == {"lr": 0.1, "opt": {"m": 0.9}}


def test_outside_a_run_there_is_no_task() -> None:
    assert run_context.current_run() is None
    assert labtasker.current_task_id() is None and not labtasker.is_enabled()
    with pytest.raises(RuntimeError, match="only available inside"):
        labtasker.task_info()
    with pytest.raises(RuntimeError, match="no current run"):
        labtasker.get_labtasker_log_dir()
