"""Events come from the files: another process's submit, claim, success, failure and cancel."""

from __future__ import annotations

import json
import signal
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

import labtasker
from labtasker import events
from labtasker.fsqueue.store import FsQueue
from tests.leases.conftest import BIN, Procs, finished, wait_for

# Another process: submits three tasks, cancels one, runs the others (one fails for good).
ACTOR = """
import os, time, labtasker
from labtasker import Required
ok = labtasker.submit_task(task_name="ok", args={"x": 1}).task_id
bad = labtasker.submit_task(task_name="bad", args={"x": 2}, max_retries=1).task_id
gone = labtasker.submit_task(task_name="gone", args={"x": 3}).task_id
deadline = time.monotonic() + 30
while not os.path.exists("seen-pending") and time.monotonic() < deadline:  # the test saw it pending
    time.sleep(0.01)
labtasker.update_tasks([labtasker.TaskUpdateRequest(**{"_id": gone, "status": "cancelled"})])

@labtasker.loop()
def main(x: int = Required()):
    time.sleep(1.0)  # long enough to be seen running, even on a busy machine (a briefer state may be skipped)
    if x == 2:
        raise RuntimeError("boom")

main()
print(ok, bad, gone)
"""
EXPECTED = {
    "ok": [(None, "pending"), ("pending", "running"), ("running", "success")],
    "bad": [(None, "pending"), ("pending", "running"), ("running", "failed")],
    "gone": [(None, "pending"), ("pending", "cancelled")],
}


def _transitions(lines: list[dict], names: dict[str, str]) -> dict[str, list[tuple[str | None, str]]]:
    return {
        name: [(e["old"], e["new"]) for e in lines if e["entity"] == "task" and e["id"] == tid]
        for name, tid in names.items()
    }


@pytest.mark.slow
def test_event_listen_sees_what_another_process_did(fast: Path, queue: FsQueue, procs: Procs) -> None:
    listener = procs.start(
        fast, [str(BIN / "labtasker"), "event", "listen", "--fmt", "jsonl"], name="listen", stderr_pipe=True
    )
    assert listener.stderr is not None
    assert "listening to" in listener.stderr.readline().decode()
    actor = procs.start(fast, [sys.executable, "-c", ACTOR], name="actor")

    def seen() -> list[dict]:
        return [json.loads(line) for line in procs.text("listen", "out").splitlines()]

    # "gone" is cancelled right after its submit: the actor waits until the listener showed it
    # pending (a state briefer than the listener's read may be skipped, as documented)
    wait_for(
        lambda: any(e["new"] == "pending" and e["doc"].get("task_name") == "gone" for e in seen()),
        "the pending task to be printed",
        timeout=20,
    )
    (fast / "seen-pending").touch()
    assert finished(actor) == 0
    ok, bad, gone = procs.text("actor", "out").split()
    names = {"ok": ok, "bad": bad, "gone": gone}

    wait_for(lambda: _transitions(seen(), names) == EXPECTED, "every transition to be printed", timeout=10)
    lines = seen()
    assert [e["seq"] for e in lines] == list(range(1, len(lines) + 1))
    assert {e["entity"] for e in lines} == {"task", "worker"}  # the actor's worker too
    success = next(e for e in lines if e["id"] == ok and e["new"] == "success")
    assert success["doc"]["task_name"] == "ok"
    assert success["doc"]["status"] == "success"
    assert datetime.fromisoformat(success["time"]).tzinfo is not None
    failure = next(e for e in lines if e["id"] == bad and e["new"] == "failed")
    assert failure["doc"]["last_error"]["message"] == "boom"
    listener.send_signal(signal.SIGTERM)
    assert finished(listener, timeout=10) == 0


@pytest.mark.usefixtures("project")
def test_the_python_iterator_sees_the_same_events() -> None:
    stop = threading.Event()
    got: list[events.QueueEvent] = []
    stream = events.listen(stop=stop)  # listening from here on
    thread = threading.Thread(target=lambda: got.extend(stream))
    thread.start()
    try:
        tid = labtasker.submit_task(args={"x": 1}).task_id
        wait_for(lambda: any(e.id == tid for e in got), "the submit event", timeout=10)
        labtasker.delete_task(tid)
        wait_for(lambda: any(e.id == tid and e.new == "deleted" for e in got), "the delete event", timeout=10)
    finally:
        stop.set()
        thread.join(10)
    assert [(e.old, e.new) for e in got if e.id == tid] == [(None, "pending"), ("pending", "deleted")]


def test_late_or_repeated_sightings_are_not_reported() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    tracker = events.Tracker()
    tracker.seed("task", "t1", "pending")
    assert tracker.see("task", "t1", "pending", 2, {}, now) is None
    running = tracker.see("task", "t1", "running", 3, {}, now)
    assert running is not None
    assert (running.seq, running.old, running.new) == (1, "pending", "running")
    assert tracker.see("task", "t1", "pending", 2, {}, now) is None  # an old notification, read late
    done = tracker.see("task", "t1", "success", 4, {"task_name": "n"}, now)
    assert done is not None
    assert (done.seq, done.old, done.new) == (2, "running", "success")
    new = tracker.see("task", "t2", "pending", 1, None, now)
    assert new is not None
    assert new.old is None


def test_a_readable_line_per_event() -> None:
    when = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
    event = events.QueueEvent(
        7,
        when,
        "task",
        "t1",
        "running",
        "pending",
        {
            "task_name": "grid",
            "retries": 1,
            "max_retries": 3,
            "last_error": "Traceback...\nRuntimeError: boom",
        },
    )
    line = event.line()
    assert "task   t1  running -> pending" in line
    assert "name=grid" in line
    assert "retries=1/3" in line
    assert "error='RuntimeError: boom'" in line
    data = json.loads(event.to_json())
    assert data == {
        "seq": 7,
        "time": "2026-01-01T12:00:00+00:00",
        "entity": "task",
        "id": "t1",
        "old": "running",
        "new": "pending",
        "doc": event.doc,
    }
