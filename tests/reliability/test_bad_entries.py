"""No file in a state folder can take the queue down: it is skipped, reported, and quarantined on request."""

from __future__ import annotations

import logging
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import labtasker
from labtasker.errors import TaskNotFound
from labtasker.fsqueue import entries, tasks
from labtasker.fsqueue.store import FsQueue
from labtasker.replicas.fsck import fsck
from tests.conftest import queue_env
from tests.reliability.conftest import Lt


def _alias_bomb() -> bytes:
    lines = ["task_id: x", 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    prev = "a"
    for name in "bcdefghi":  # 9 levels: 9^9 strings once expanded
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
        prev = name
    return ("\n".join(lines) + "\n").encode()


def _deep() -> bytes:
    return b"task_id: x\nargs: " + b"[" * 200 + b"]" * 200 + b"\n"


def _make_dir(path: Path) -> None:
    path.mkdir()


def _make_fifo(path: Path) -> None:
    os.mkfifo(path)


def _make_socket(path: Path) -> None:
    here = os.getcwd()
    os.chdir(path.parent)  # a relative name: the full path is longer than AF_UNIX allows
    try:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(path.name)
        sock.close()
    finally:
        os.chdir(here)


def _make_symlink(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _make_device(path: Path) -> None:
    try:
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # /dev/zero's numbers
    except PermissionError:
        pytest.skip("creating a device node needs root")


def _writer(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


BAD: dict[str, Callable[[Path], None]] = {
    "directory": _make_dir,
    "fifo": _make_fifo,
    "socket": _make_socket,
    "symlink": _make_symlink,
    "device": _make_device,
    "oversize": _writer(b"task_id: x\nargs: {pad: '" + b"x" * (entries.MAX_BYTES + 10) + b"'}\n"),
    "alias-bomb": _writer(_alias_bomb()),
    "deep": _writer(_deep()),
    "bad-encoding": _writer(b"task_id: x\ntask_name: \xff\xfe\n"),
    "a-set": _writer(b"task_id: x\nargs: !!set {a, b}\n"),
}
NAME = "100000000.20260101T000000000000Z--0190a000-0000-7000-8000-000000000000.yaml"


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_bad_entry_is_skipped_reported_and_quarantined(
    kind: str, queue: FsQueue, lt: Lt, project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = labtasker.submit_task(task_name="good", args={"n": 1}).task_id
    for dirname in ("pending", "running", "done"):
        BAD[kind](queue.path / dirname / NAME.replace("--", f"{dirname[0]}--", 1))

    # every reader works, in another process too (a FIFO must not make a listing hang)
    ls = subprocess.run(
        [sys.executable, "-m", "labtasker", "task", "ls", "-q", "--no-pager"],
        capture_output=True, text=True, env=queue_env(project), timeout=30, cwd=project,
    )  # fmt: skip
    assert ls.returncode == 0, ls.stderr
    assert ls.stdout.split() == [good]
    with caplog.at_level(logging.WARNING, logger="labtasker"):
        assert [t.task_id for t in labtasker.ls_tasks().content] == [good]
        assert queue.count() == {"pending": 1, "running": 0, "success": 0, "failed": 0, "cancelled": 0}
        assert labtasker.get_task(good).task_name == "good"
        with pytest.raises(TaskNotFound):
            tasks.locate(queue, "0190a000-0000-7000-8000-000000000000")
    said = ls.stderr + caplog.text  # the first reader to meet it says so (once per process)
    assert "skipping" in said or "quarantined" in said

    # fsck names each, --repair moves them to quarantine/, and the queue is clean after
    report = fsck(queue)
    bad = [f for f in report.found if f.kind in ("not-a-task-file", "unreadable")]
    quarantined_by_readers = len(os.listdir(queue.path / "quarantine"))
    assert len(bad) + quarantined_by_readers == 3, report.found
    assert fsck(queue, repair=True).clean
    assert len(os.listdir(queue.path / "quarantine")) == 3
    assert fsck(queue).clean

    # and the loop runs the good task
    seen = []

    @labtasker.loop()
    def main(n: int = labtasker.Required()) -> None:
        seen.append(n)

    main()
    assert seen == [1] and labtasker.get_task(good).status == "success"
