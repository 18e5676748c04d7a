"""A listing or a count taken while workers move tasks shows every task, once: none is lost
between folders, none counted twice."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import labtasker
from labtasker import api
from labtasker.fsqueue import cache
from tests.conftest import queue_env

pytestmark = pytest.mark.slow

TASKS = cache.PARALLEL_MIN + 200  # enough for a cold listing to read pending/ in parts


def _run(project: Path, *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "labtasker", *argv],
        cwd=project,
        env=queue_env(project),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def _listing(project: Path) -> list[str]:
    out = _run(project, "task", "ls", "--fmt", "jsonl", "--limit", str(2 * TASKS))
    return [json.loads(line)["task_id"] for line in out.splitlines()]


def _count(project: Path) -> int:
    return int(json.loads(_run(project, "task", "count", "--fmt", "json"))["total"])


def test_a_listing_while_workers_move_tasks_shows_each_task_once(project: Path) -> None:
    """Each task moves pending/ -> tmp/ -> running/ -> tmp/ -> done/ while fresh processes list
    the queue, cold (no cache file: read in parts by forked processes) and warm in turns, and
    count it. A task whose file moved after its folder was listed (or that was in hand at a look
    at tmp/) was missing from such a listing, a few in each; a count was one or two off in
    four samples of ten (a task counted in two folders, or in none)."""
    ids = set(labtasker.submit_tasks([{"args": {"i": i}} for i in range(TASKS)]))
    cache_dir = api.context().queue.path / "tmp" / "cache"
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "labtasker", "loop", "--", "true", "%(i)"],
            cwd=project,
            env=queue_env(project),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    samples: list[tuple[int, int, int]] = []  # (tasks missing, tasks listed twice, the count's total)
    try:
        while any(w.poll() is None for w in workers):
            if len(samples) % 2 == 0:
                shutil.rmtree(cache_dir, ignore_errors=True)
            listed = _listing(project)
            samples.append((len(ids - set(listed)), len(listed) - len(set(listed)), _count(project)))
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
            w.wait()
    assert len(samples) >= 2, "the workers finished before a listing could be taken"
    assert samples == [(0, 0, TASKS)] * len(samples)
    assert sorted(_listing(project)) == sorted(ids)
