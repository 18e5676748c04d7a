"""Editing a running task never disturbs its job; a task in someone's hand is busy, never "not found"."""

from __future__ import annotations

import multiprocessing as mp
import subprocess
import sys
import time
from pathlib import Path

import pytest

import labtasker
from labtasker import api, run_context
from labtasker.api_models import TaskUpdateRequest
from labtasker.errors import TaskBusy, TaskNotFound
from labtasker.fsqueue import layout, tasks
from labtasker.fsqueue.store import FsQueue
from tests.conftest import queue_env

pytestmark = pytest.mark.slow

UPDATERS = 6
EDIT_SECONDS = 3.0  # how long the updaters edit; the job runs until they are done (a handshake file)
START = 60  # seconds for a loop to start its job: bounds a hang only, a loaded machine needs many
# A job that runs until the file named by its first argument exists.
UNTIL = "import os, sys, time\nwhile not os.path.exists(sys.argv[1]):\n    time.sleep(0.05)"


def _updater(project: str, tid: str, me: int, stop_at: float, results: mp.Queue) -> None:
    import os

    os.chdir(project)
    run_context._queues.clear()
    done, errors = 0, []
    while time.time() < stop_at:
        try:
            labtasker.update_tasks([TaskUpdateRequest(_id=tid, metadata={f"u{me}": done + 1}, priority=me)])
            done += 1
        except Exception as exc:  # every error is a finding: reported, not swallowed
            errors.append(f"{type(exc).__name__}: {exc}")
    results.put((me, done, errors))


def test_six_updaters_against_a_running_job(project: Path) -> None:
    tid = labtasker.submit_task(args={"x": 1}).task_id
    env = queue_env(project)
    go = project / "updaters-done"
    worker = subprocess.Popen(
        [sys.executable, "-m", "labtasker", "loop", "--heartbeat-interval", "0.2", "--",
         sys.executable, "-c", UNTIL, str(go), "%(x)"],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + START
        while labtasker.get_task(tid).status != "running":
            assert time.monotonic() < deadline, "the worker never started the job"
            time.sleep(0.02)
        ctx = mp.get_context("fork")
        results: mp.Queue = ctx.Queue()
        stop_at = time.time() + EDIT_SECONDS
        procs = [
            ctx.Process(target=_updater, args=(str(project), tid, i, stop_at, results))
            for i in range(UPDATERS)
        ]
        for p in procs:
            p.start()
        got = [results.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(timeout=30)
        go.touch()  # the job ends only now: every edit happened while it ran, however slow the machine
        out, _ = worker.communicate(timeout=60)
    finally:
        worker.kill()
    assert worker.returncode == 0, out
    assert all(errors == [] for _, _, errors in got), got  # no TaskNotFound, no "busy"
    assert all(done > 0 for _, done, _ in got), got
    task = labtasker.get_task(tid)
    assert task.status == "success", out  # the job was never stopped
    assert "cancelled, reclaimed or deleted" not in out
    for me, done, _ in got:
        assert task.metadata[f"u{me}"] == done  # each updater's last edit landed
    print(f"\n{sum(d for _, d, _ in got)} edits by {UPDATERS} updaters in {EDIT_SECONDS:g}s of a running job")


def test_a_task_in_hand_is_busy_then_back(queue: FsQueue) -> None:
    tid = labtasker.submit_task(args={"x": 1}).task_id
    (name,) = queue.names("pending")
    path = queue.take("pending", name)  # this very process holds it: alive
    assert labtasker.get_task(tid).status == "pending"  # still visible, where it was
    assert [t.task_id for t in labtasker.ls_tasks().content] == [tid]
    assert queue.count()["pending"] == 1
    with pytest.raises(TaskBusy, match="busy"):
        tasks.change_task(queue, tid, lambda doc: ("pending", doc), wait=0.3)
    path.rename(queue.path / "pending" / name)  # the holder puts it back
    labtasker.update_tasks([TaskUpdateRequest(_id=tid, metadata={"a": 1})])
    assert labtasker.get_task(tid).metadata == {"a": 1}
    with pytest.raises(TaskNotFound):
        labtasker.get_task("0190a000-0000-7000-8000-000000000000")


def test_cancel_and_delete_still_stop_a_running_job(project: Path) -> None:
    never = project / "never-created"  # the job would run until it exists: only the stop can end it
    for action in ("cancel", "delete"):
        tid = labtasker.submit_task(args={"x": 1}).task_id
        worker = subprocess.Popen(
            [sys.executable, "-m", "labtasker", "loop", "--heartbeat-interval", "0.2", "--max-tasks", "1",
             "--", sys.executable, "-c", UNTIL, str(never), "%(x)"],
            cwd=project, env=queue_env(project), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + START
            while labtasker.get_task(tid).status != "running":
                assert time.monotonic() < deadline, "the worker never started the job"
                time.sleep(0.02)
            if action == "cancel":
                labtasker.update_tasks([TaskUpdateRequest(_id=tid, status="cancelled")])
            else:
                labtasker.delete_task(tid)
            out, _ = worker.communicate(timeout=120)  # a hang bound: the job itself never ends
        finally:
            worker.kill()
        assert "cancelled, reclaimed or deleted" in out or "cancel" in out.lower(), out
        assert not any(
            layout.task_id_of("running", n) == tid for n in FsQueue(api.context().queue.path).names("running")
        )
