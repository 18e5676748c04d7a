"""Chaos: 200 tasks, 4 workers, 40 SIGKILLs at random; nothing lost, nothing hidden, every run counted."""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import labtasker
from labtasker import api
from labtasker.replicas.fsck import fsck
from tests.conftest import queue_env

pytestmark = pytest.mark.slow

TASKS, WORKERS, KILLS = 200, 4, 40


def _worker(project: Path, log: Path) -> subprocess.Popen[bytes]:
    # 100-900 ms, a different length per run: long enough that the queue outlasts the 40 kills
    # (a few seconds of them) however fast a worker starts
    job = f'echo "$0" >> {log}; sleep 0.$(( $$ % 9 + 1 ))'
    return subprocess.Popen(
        [sys.executable, "-m", "labtasker", "loop", "--heartbeat-interval", "0.2", "--", "sh", "-c", job, "%(i)"],
        cwd=project, env=queue_env(project), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def test_chaos(project: Path) -> None:
    rng = random.Random(int(os.environ.get("CHAOS_SEED", "12")))
    ids = set(labtasker.submit_tasks([{"args": {"i": i}, "max_retries": 20} for i in range(TASKS)]))
    log = project / "runs.log"
    queue = api.context().queue
    workers = [_worker(project, log) for _ in range(WORKERS)]
    kills = samples = hidden_samples = 0
    hidden: set[str] = set()
    started = time.monotonic()
    next_kill = started + rng.uniform(0.1, 0.4)

    def sample() -> None:
        nonlocal samples, hidden_samples
        seen = {t.task_id for t in labtasker.ls_tasks(limit=None).content}
        samples += 1
        missing = {tid for tid in ids - seen if queue.find(tid) is None}  # confirmed by a lookup
        if missing:
            hidden_samples += 1
            hidden.update(missing)

    while kills < KILLS and time.monotonic() - started < 40:
        sample()
        if time.monotonic() >= next_kill:
            victim = rng.randrange(len(workers))
            if workers[victim].poll() is None:
                workers[victim].send_signal(signal.SIGKILL)
                workers[victim].wait()
                kills += 1
            workers[victim] = _worker(project, log)
            next_kill = time.monotonic() + rng.uniform(0.05, 0.4)
    for w in workers:  # the survivors drain the queue, then exit
        while w.poll() is None:
            sample()
    final = _worker(project, log)  # one more look, in case the last worker killed left a run behind
    assert final.wait(timeout=60) == 0
    sample()

    statuses = collections.Counter(labtasker.get_task(tid).status for tid in ids)
    runs = collections.Counter(log.read_text().split())
    ran_twice = sum(1 for n in runs.values() if n > 1)
    print(
        f"\nchaos: {TASKS} tasks, {WORKERS} workers, {kills} SIGKILLs, {samples} samples; "
        f"lost {TASKS - sum(statuses.values())}, hidden in {hidden_samples} samples, "
        f"ran twice or more: {ran_twice}, statuses {dict(statuses)}, {time.monotonic() - started:.1f}s"
    )
    assert kills == KILLS
    assert hidden == set(), f"hidden at some instant: {sorted(hidden)[:5]}"
    assert statuses == {"success": TASKS}
    assert len(runs) == TASKS  # every task ran at least once
    assert fsck(queue).clean
