"""Shared fixtures: every test runs in its own project folder with its own queue."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from labtasker import api, config, run_context
from labtasker.fsqueue.store import FsQueue

T = TypeVar("T")

_ENV = (
    "LABTASKER_ROOT", "LABTASKER_QUEUE_DIR", "LABTASKER_QUEUE_NAME", "LABTASKER_NODE_ID",
    "LABTASKER_TASK_ID", "LABTASKER_WORKER_ID", "LABTASKER_LOG_DIR", "LABTASKER_DEBUG",
)  # fmt: skip


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No labtasker variable of the developer's shell leaks in; caches start empty."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    run_context._queues.clear()
    yield
    run_context._queues.clear()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder (the cwd) with ``.labtasker/`` and its default queue."""
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    root = config.init_root(folder)
    cfg = config.load(root)
    FsQueue.create(cfg.resolved_queue_dir(), cfg.queue_name, node=config.node_id(root))
    return folder


@pytest.fixture
def queue(project: Path) -> FsQueue:
    """The default queue of ``project``."""
    return api.context().queue


def queue_env(project: Path) -> dict[str, str]:
    """Environment for a child process working on ``project``'s queue."""
    env = {k: v for k, v in os.environ.items() if k not in _ENV}
    env["LABTASKER_ROOT"] = str(project / ".labtasker")
    return env


def race(target: Callable[..., None], argsets: list[tuple], timeout: float = 120) -> None:
    """Run ``target(*args, start)`` in one forked process per argset, released together.

    Each target waits on ``start`` (its last argument) so all begin at once;
    every process must exit 0.
    """
    ctx = mp.get_context("fork")
    start = ctx.Event()
    procs = [ctx.Process(target=target, args=(*args, start)) for args in argsets]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=timeout)
        assert p.exitcode == 0


def wait_for(check: Callable[[], T], what: str, timeout: float = 20.0, every: float = 0.03) -> T:
    """Poll ``check`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(every)
