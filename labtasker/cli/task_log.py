"""``labtasker task log TASK_ID``: the run log of a task's latest run (or of one run, or all)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from plumbum import cli

from labtasker import api
from labtasker.api_models import Task
from labtasker.cli import output
from labtasker.cli.base import Command
from labtasker.cli.task import positive
from labtasker.errors import LabtaskerError, TaskNotFound, UsageError
from labtasker.worker import run_logs

POLL = 0.2  # seconds between looks at a followed log


class Log(Command):
    """Print the run log of a task's latest run; -f follows a running task's log as it grows"""

    attempt = cli.SwitchAttr(
        ["-a", "--attempt"], positive, argname="N", help="The log of run N (1 is the first run)"
    )
    every = cli.Flag(
        ["--all"], excludes=["--attempt"], help="Every run's log, oldest first, each under a header"
    )
    follow = cli.Flag(
        ["-f", "--follow"],
        excludes=["--all", "--attempt"],
        help="Keep printing what a running task writes, until its run ends (waits for a pending task to start)",
    )

    def main(self, task_id: str) -> int:
        ctx = api.context()
        dirs = run_logs.log_dirs(ctx.queue.path, ctx.root)
        task = _task(task_id)
        logs = run_logs.runs(dirs, task_id)
        if task is None and not logs:
            raise TaskNotFound(f"no task with id {task_id!r} in {ctx.queue.path}")
        if self.follow:
            return _follow(task_id, dirs, logs)
        if not logs:
            raise LabtaskerError(_never_ran(task_id, task))
        if self.every:
            for n, log in enumerate(logs, 1):
                _write(f"==> run {n} of {len(logs)}: {log} <==\n".encode())
                _copy(log)
            return 0
        if self.attempt is not None and self.attempt > len(logs):
            runs = f"{len(logs)} run" + ("s" if len(logs) != 1 else "")
            raise UsageError(f"task {task_id} has {runs} logged: --attempt takes 1 to {len(logs)}")
        _copy(logs[(self.attempt or len(logs)) - 1])
        return 0


def _task(task_id: str) -> Task | None:
    try:
        return api.get_task(task_id)
    except TaskNotFound:
        return None


def _never_ran(task_id: str, task: Task | None) -> str:
    status = task.status if task is not None else "gone"
    if task is not None and task.start_time is not None and status != "running":
        return (
            f"task {task_id} has no run log: it ran and printed nothing (it is {status}); "
            "a Python job's run that is done without printing keeps no log"
        )
    return (
        f"task {task_id} has no run log: it has not run yet (it is {status}); "
        f"`labtasker task log -f {task_id}` waits for it to start"
    )


def _write(data: bytes) -> None:
    sys.stdout.buffer.write(data)


def _copy(path: Path, start: int = 0) -> int:
    """Write a log from byte ``start``; return where it ended."""
    try:
        with open(path, "rb") as fh:
            fh.seek(start)
            data = fh.read()
    except FileNotFoundError:
        return start
    _write(data)
    sys.stdout.buffer.flush()
    return start + len(data)


def _follow(task_id: str, dirs: list[Path], known: list[Path]) -> int:
    """Print the current run's log as it grows; return once the run has ended."""
    status = _status(task_id)
    if status == "running" or not known:
        log = _wait_for_run(task_id, dirs, known if status != "running" else known[:-1])
    else:
        log = known[-1]  # a finished task: its last log, whole
    if log is None:
        ended = _status(task_id)
        if ended is not None:
            output.info(f"task {task_id} is {ended}: its run printed nothing, so it has no log")
        return 0
    offset = _copy(log)
    tail = b""
    while True:
        tail = _last_line(log, offset)
        if run_logs.has_footer(tail.decode("utf-8", "replace")):
            return 0
        if _status(task_id) != "running" and _status(task_id) is not None:
            _copy(log, offset)
            return 0
        time.sleep(POLL)
        offset = _copy(log, offset)


def _wait_for_run(task_id: str, dirs: list[Path], before: list[Path]) -> Path | None:
    """A run log that is not among ``before`` (a run that started); None if the task went away
    or ended without one (a Python job's run that printed nothing)."""
    while True:
        found = [p for p in run_logs.runs(dirs, task_id) if p not in before]
        if found:
            return found[-1]
        if _status(task_id) not in ("pending", "running"):  # gone, or ended: a last look, then stop
            found = [p for p in run_logs.runs(dirs, task_id) if p not in before]
            return found[-1] if found else None
        time.sleep(POLL)


def _status(task_id: str) -> str | None:
    task = _task(task_id)
    return task.status if task is not None else None


def _last_line(path: Path, end: int) -> bytes:
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, end - 4096))
            return fh.read(end - max(0, end - 4096))
    except FileNotFoundError:
        return b""
