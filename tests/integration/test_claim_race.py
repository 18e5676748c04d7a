"""Exactly-once claims with real processes racing on a real directory."""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path

from labtasker.fsqueue import claim, tasks
from labtasker.fsqueue.layout import STATE_DIRS, task_id_of
from labtasker.fsqueue.store import FsQueue
from tests.conftest import race

N_TASKS = 1200
N_PROCS = 4


def _worker(path: str, worker: str, out: str, start: mp.Event) -> None:  # type: ignore[valid-type]
    queue = FsQueue(path, node="n1")
    claimer = claim.Claimer(queue, worker)
    start.wait()
    got = []
    while (located := claimer.claim()) is not None:
        got.append(located.doc["task_id"])
        tasks.finish(queue, located.name, "success")
    Path(out).write_text("\n".join(got))


def test_four_processes_claim_every_task_exactly_once(tmp_path: Path) -> None:
    queue = FsQueue.create(tmp_path / "q", "race", node="n1")
    submitted = set(tasks.submit_many(queue, [{"args": {"i": i}} for i in range(N_TASKS)]))
    outs = [tmp_path / f"claimed-{i}.txt" for i in range(N_PROCS)]
    race(_worker, [(str(queue.path), f"w{i}", str(outs[i])) for i in range(N_PROCS)])
    claimed = [line for out in outs for line in out.read_text().split("\n") if line]
    assert len(claimed) == len(set(claimed)) == N_TASKS  # nobody ran a task twice
    assert set(claimed) == submitted
    assert sum(1 for out in outs if out.read_text()) >= 2  # the work was really shared
    # no id in two state directories, nothing left in hand
    seen: dict[str, str] = {}
    for dirname in STATE_DIRS.values():
        for name in os.listdir(queue.path / dirname):
            tid = task_id_of(dirname, name)
            assert tid not in seen, f"{tid} in {seen.get(tid)} and {dirname}"
            seen[tid] = dirname
    assert set(seen.values()) == {"done"} and len(seen) == N_TASKS
    assert set(os.listdir(queue.path / "tmp")) <= {
        "cache"
    }  # no held file left; the listing cache may be there
