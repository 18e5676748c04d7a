"""A killed bulk submit can be resumed: the rerun submits exactly the lines that did not get in."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import labtasker
from labtasker.fsqueue import held
from labtasker.fsqueue.store import FsQueue
from tests.conftest import queue_env
from tests.reliability.conftest import Lt

LINES = 3000


def _sweep(path: Path, lines: int = LINES) -> Path:
    path.write_text("".join(json.dumps({"args": {"i": i}}) + "\n" for i in range(lines)), encoding="utf-8")
    return path


def _submit(project: Path, sweep: Path, fault: str = "") -> subprocess.Popen[str]:
    env = {**queue_env(project), **({"LABTASKER_FAULT": fault} if fault else {})}
    return subprocess.Popen(
        [sys.executable, "-m", "labtasker", "task", "submit", "--from-file", str(sweep), "-q"],
        cwd=project, env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _args(queue: FsQueue) -> collections.Counter[int]:  # how many times each line is in the queue
    return collections.Counter(t.args["i"] for t in labtasker.ls_tasks(limit=None).content)


def test_a_bulk_submit_killed_at_a_random_moment_resumes(project: Path, queue: FsQueue) -> None:
    sweep = _sweep(project / "sweep.jsonl")
    first = _submit(project, sweep)
    deadline = time.monotonic() + 60
    while queue.count()["pending"] < 300:
        assert time.monotonic() < deadline and first.poll() is None, (
            "the submit finished before it could be killed"
        )
        time.sleep(0.005)
    first.send_signal(signal.SIGKILL)
    first.wait()
    got_in = queue.count()["pending"]
    assert 0 < got_in < LINES
    again = _submit(project, sweep)
    _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert f"{got_in} of {LINES} tasks were in the queue already" in err
    assert _args(queue) == collections.Counter(range(LINES))  # every line once, none twice
    left = [(n, held.temp_holder(n)) for n in os.listdir(queue.tmp) if n.endswith(".tmp")]
    assert not left, [
        (n, h and h.alive(), h and held.start_ticks(int(h.token.split("-")[0]))) for n, h in left
    ]


def test_killed_while_writing_one_line(project: Path, queue: FsQueue, lt: Lt) -> None:
    sweep = _sweep(project / "sweep.jsonl", 600)
    first = _submit(project, sweep, fault="write:kill:pending:234")
    first.wait(timeout=120)
    assert first.returncode == -signal.SIGKILL
    assert queue.count()["pending"] == 233
    ran = lt("task", "submit", "--from-file", str(sweep), "-q")
    assert ran.code == 0 and "233 of 600 tasks were in the queue already" in ran.err
    assert _args(queue) == collections.Counter(range(600))
    ran = lt("task", "submit", "--from-file", str(sweep), "-q")  # a third run: nothing to do
    assert ran.code == 0 and "600 of 600" in ran.err and queue.count()["pending"] == 600
    assert lt("task", "submit", "--from-file", str(sweep), "-q", "--again").code == 0  # on purpose: new tasks
    assert queue.count()["pending"] == 1200


@pytest.mark.parametrize("again", [False, True])
def test_submit_tasks_in_python_resumes_too(queue: FsQueue, again: bool) -> None:
    batch = [{"args": {"i": i}} for i in range(50)]
    first = labtasker.submit_tasks(batch[:20] + batch[20:])  # the same content: the same batch
    for task_id in first[10:]:  # as if the run had died after 10 tasks
        (name,) = [n for n in queue.names("pending") if n.endswith(f"{task_id}.yaml")]
        os.unlink(queue.path / "pending" / name)
    second = labtasker.submit_tasks(batch, again=again)
    if again:
        assert set(second).isdisjoint(first) and queue.count()["pending"] == 60
    else:
        assert second == first and _args(queue) == collections.Counter(range(50))
