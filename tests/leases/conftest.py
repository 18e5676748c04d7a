"""Helpers for lease tests: short leases, real processes, waiting for conditions with a deadline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from labtasker import config
from labtasker.fsqueue.store import FsQueue
from tests.conftest import queue_env
from tests.conftest import wait_for as wait_for  # the tests of this folder import it from here

INTERVAL, TIMEOUT = 0.2, 1.0  # seconds: heartbeats every 0.2 s, a lease is stale after 1 s
BIN = Path(sys.executable).parent

# A Python loop whose job does what $MODE or the task's metadata says.
WORKER = """
import os, signal, sys, time
import labtasker
from labtasker import Required

@labtasker.loop()
def main(x: int = Required()):
    task = labtasker.task_info()
    mode = os.environ.get("MODE") or task.metadata.get("mode", "quick")
    print("started", task.task_id, flush=True)
    if mode == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "hang":
        while True:
            time.sleep(0.02)
    if mode == "slow":
        for _ in range(int(task.metadata.get("steps", 100))):
            time.sleep(0.02)
    if mode == "fail":
        raise RuntimeError("this task always fails")
    labtasker.report_task_status(task.task_id, "running", summary={"by": os.environ.get("WHO", "?")})

main()
"""


@pytest.fixture
def fast(project: Path) -> Path:
    """``project`` with short leases in its config.toml."""
    cfg = project / ".labtasker" / "config.toml"
    settings = {"heartbeat_interval": INTERVAL, "heartbeat_timeout": TIMEOUT}
    cfg.write_text(config.render("default", loop=settings), encoding="utf-8")
    return project


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    """Start child processes; every one still alive at the end is killed."""
    started = Procs(tmp_path / "out")
    yield started
    started.kill_all()


class Procs:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.out.mkdir(exist_ok=True)
        self.all: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        project: Path,
        argv: list[str],
        *,
        name: str,
        env: dict[str, str] | None = None,
        stderr_pipe: bool = False,
    ) -> subprocess.Popen[bytes]:
        """Run ``argv`` in ``project`` (its output goes to out/<name>.out and .err)."""
        with open(self.out / f"{name}.out", "wb") as stdout, open(self.out / f"{name}.err", "wb") as err:
            proc = subprocess.Popen(
                argv,
                cwd=project,
                env={**queue_env(project), **(env or {})},
                stdout=stdout,
                stderr=subprocess.PIPE if stderr_pipe else err,
            )
        self.all.append(proc)
        return proc

    def worker(self, project: Path, name: str = "worker", **env: str) -> subprocess.Popen[bytes]:
        return self.start(project, [sys.executable, "-c", WORKER], name=name, env=env)

    def monitor(self, project: Path, *args: str, name: str = "monitor") -> subprocess.Popen[bytes]:
        argv = [str(BIN / "labtasker-server"), "serve", "--interval", "0.1", *args]
        return self.start(project, argv, name=name)

    def text(self, name: str, kind: str = "err") -> str:
        path = self.out / f"{name}.{kind}"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill_all(self) -> None:
        for proc in self.all:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
            proc.wait(timeout=10)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()


def state(queue: FsQueue, task_id: str) -> str | None:
    """The directory a task is in now (None while it is in hand or gone)."""
    found = queue.find(task_id)
    return found.dirname if found else None


def lease_age(queue: FsQueue, task_id: str) -> float:
    """Seconds since the running file of a task was renewed (same host: one clock)."""
    found = queue.find(task_id)
    assert found is not None
    assert found.dirname == "running"
    return time.time() - os.stat(queue.path / "running" / found.name).st_mtime


def finished(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    """Wait for a child to exit; its exit code."""
    return proc.wait(timeout=timeout)
