"""Every step of take, change, put can die or fail without losing or hiding a task.

A child process claims a task with ``LABTASKER_FAULT`` set (fsqueue/faults.py):
stopped at a step, the task must be listed by another process; killed there,
it must be back in place within a second, put back by whoever looks next;
failing there, the task must be exactly as it was and the next change must work.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import labtasker
from labtasker.fsqueue import faults, tasks
from labtasker.fsqueue.store import FsQueue
from labtasker.replicas.fsck import fsck
from tests.conftest import queue_env
from tests.reliability.conftest import Lt

STEPS = ["take", "held", "change", "write", "put", "drop"]
AFTER = {"take": "pending", "held": "pending", "change": "pending", "write": "pending", "put": "running", "drop": "running"}  # fmt: skip
CLAIM = (
    "import sys; from labtasker.fsqueue.store import FsQueue; from labtasker.fsqueue.claim import Claimer; "
    "print(Claimer(FsQueue(sys.argv[1]), 'w1').claim())"
)


def _claimer(queue: FsQueue, project: Path, fault: str) -> subprocess.Popen[str]:
    env = {**queue_env(project), "LABTASKER_FAULT": fault}
    return subprocess.Popen(
        [sys.executable, "-c", CLAIM, str(queue.path)], env=env, stdout=subprocess.PIPE, text=True
    )


def _stopped(pid: int) -> bool:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        stat = fh.read()
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] in (b"T", b"t")


def _listed_elsewhere(project: Path) -> list[str]:
    """``labtasker task ls`` in a process of its own: ids and statuses."""
    out = subprocess.run(
        [sys.executable, "-m", "labtasker", "task", "ls", "--no-pager", "--fmt", "jsonl"],
        capture_output=True, text=True, env=queue_env(project), cwd=project, timeout=30, check=True,
    ).stdout  # fmt: skip

    return [f"{t['task_id']} {t['status']}" for t in map(json.loads, out.splitlines())]


@pytest.mark.parametrize("step", STEPS)
def test_killed_at_each_step_the_task_stays_visible_and_is_back_within_a_second(
    step: str, queue: FsQueue, project: Path
) -> None:
    tid = labtasker.submit_task(args={"x": 1}).task_id
    child = _claimer(queue, project, f"{step}:stop")
    deadline = time.monotonic() + 20
    while not _stopped(child.pid):
        assert time.monotonic() < deadline and child.poll() is None, "the claimer never reached the step"
        time.sleep(0.005)
    # mid-step: another process lists the task, in the state it was taken from (or already moved to)
    assert _listed_elsewhere(project) in ([f"{tid} pending"], [f"{tid} running"])
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    died = time.monotonic()
    holders = [(h.path.name, h.holder.alive() if h.holder else None) for h in queue.held_files()]
    found = queue.find(tid)  # the first look after the death puts it back
    took = time.monotonic() - died
    assert found is not None and not found.busy, (found, holders)
    assert took < 1.0, f"the look after the death took {took:.2f}s"
    assert found.dirname == AFTER[step]
    assert not [n for n in os.listdir(queue.tmp) if n.startswith("held.")]
    assert fsck(queue).clean
    assert labtasker.get_task(tid).retries == 0


@pytest.mark.parametrize("step", STEPS)
def test_killed_outright_at_each_step(step: str, queue: FsQueue, project: Path) -> None:
    tid = labtasker.submit_task(args={"x": 1}).task_id
    child = _claimer(queue, project, f"{step}:kill")
    assert child.wait(timeout=30) == -signal.SIGKILL
    assert _listed_elsewhere(project) == [f"{tid} {AFTER[step]}"]  # that very look put it back
    assert not [n for n in os.listdir(queue.tmp) if n.startswith(("held.", "w."))]


@pytest.mark.parametrize("step", ["take", "held", "change", "write"])
@pytest.mark.parametrize("action", ["ENOSPC", "EIO", "EROFS", "EACCES", "error"])
def test_a_failure_at_each_step_leaves_the_task_as_it_was(
    step: str, action: str, queue: FsQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = labtasker.submit_task(args={"x": 1}, metadata={"v": 0}).task_id
    (name,) = queue.names("pending")
    before = (queue.path / "pending" / name).read_bytes()
    monkeypatch.setattr(faults, "_FAULT", faults._parse(f"{step}:{action}:*:0"))
    with pytest.raises((OSError, ValueError)):
        tasks.update(queue, tid, {"metadata": {"v": 1}})
    monkeypatch.setattr(faults, "_FAULT", None)
    assert (queue.path / "pending" / name).read_bytes() == before  # back, byte for byte
    assert os.listdir(queue.tmp) == [] or not [
        n for n in os.listdir(queue.tmp) if n.startswith(("held.", "w."))
    ]
    tasks.update(queue, tid, {"metadata": {"v": 2}})  # and the next change works
    assert labtasker.get_task(tid).metadata == {"v": 2}


def test_enospc_while_finishing_keeps_the_run(queue: FsQueue, monkeypatch: pytest.MonkeyPatch) -> None:
    """The full disk of the issue: the success is not lost, the task stays running, the retry lands."""
    tid = labtasker.submit_task(args={"x": 1}).task_id
    from labtasker.fsqueue import claim

    got = claim.Claimer(queue, "w1").claim()
    assert got is not None
    monkeypatch.setattr(faults, "_FAULT", faults._parse("write:ENOSPC:done:0"))
    with pytest.raises(OSError, match="No space left"):
        tasks.finish(queue, got.name, "success", summary={"acc": 0.9})
    assert labtasker.get_task(tid).status == "running"  # visible, and still this worker's
    assert fsck(queue).clean
    monkeypatch.setattr(faults, "_FAULT", None)
    tasks.finish(queue, got.name, "success", summary={"acc": 0.9})
    task = labtasker.get_task(tid)
    assert (task.status, task.summary, task.retries) == ("success", {"acc": 0.9}, 0)


def test_a_failed_write_is_one_clear_line_on_the_command_line(project: Path, lt: Lt) -> None:
    tid = labtasker.submit_task(args={"x": 1}).task_id
    env = {**queue_env(project), "LABTASKER_FAULT": "write:ENOSPC:*:0"}
    ran = subprocess.run(
        [sys.executable, "-m", "labtasker", "task", "update", "--id", tid, "--", "metadata.a=1"],
        capture_output=True, text=True, env=env, cwd=project, timeout=30,
    )  # fmt: skip
    assert ran.returncode != 0
    assert len(ran.stderr.strip().splitlines()) == 1 and "No space left" in ran.stderr, ran.stderr
    assert "Traceback" not in ran.stderr
    assert lt("task", "ls", "-q", "--no-pager").out.split() == [tid]
    assert lt("task", "update", "--id", tid, "--", "metadata.a=1").code == 0


def test_a_live_holder_is_never_recovered_whatever_its_clock(queue: FsQueue, project: Path) -> None:
    """The issue's holder 1 h behind: its file looked old and was 'recovered' while it was alive."""
    tid = labtasker.submit_task(args={"x": 1}).task_id
    child = _claimer(queue, project, "change:stop")
    deadline = time.monotonic() + 20
    while not _stopped(child.pid):
        assert time.monotonic() < deadline and child.poll() is None
        time.sleep(0.005)
    (held,) = [queue.tmp / n for n in os.listdir(queue.tmp) if n.startswith("held.")]
    hour_ago = time.time() - 3600
    os.utime(held, (hour_ago, hour_ago))  # what a holder whose clock is 1 h behind would stamp
    assert queue.settle_held(older_than=0.0) == []  # alive on this host: its times do not matter
    assert queue.recover_held(older_than=0.0) == []
    found = queue.find(tid)
    assert found is not None and found.busy and found.dirname == "pending"
    assert fsck(queue, repair=True).clean and held.exists()  # nor does fsck take it
    os.kill(child.pid, signal.SIGCONT)  # the holder carries on and finishes its claim
    assert child.wait(timeout=30) == 0
    assert queue.find(tid).dirname == "running"
    assert queue.count() == {
        "pending": 0,
        "running": 1,
        "success": 0,
        "failed": 0,
        "cancelled": 0,
    }  # one copy


@pytest.mark.parametrize("skew", [-3600.0, 3600.0])
def test_a_holder_on_another_host_is_judged_by_the_filesystem_clock(skew: float, queue: FsQueue) -> None:
    tid = labtasker.submit_task(args={"x": 1}).task_id
    (name,) = queue.names("pending")
    from labtasker.fsqueue import layout

    held = queue.tmp / layout.held_name("pending", name, "h00000000", "77-1-ab")  # another host's process
    os.rename(queue.path / "pending" / name, held)
    os.utime(held, (time.time() + skew, time.time() + skew))  # its clock an hour off, either way
    assert queue.settle_held() == []  # taken just now by the filesystem's clock: maybe alive
    assert queue.find(tid).busy
    deadline = time.monotonic() + 5
    while not queue.settle_held(older_than=0.05):  # dead once the filesystem's clock says so
        assert time.monotonic() < deadline
        time.sleep(0.01)
    found = queue.find(tid)
    assert found is not None and not found.busy and found.dirname == "pending"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB tmpfs, where the test may mount one (root on Linux); skipped elsewhere."""
    point = tmp_path / "small"
    point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(point)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (the injected ENOSPC test covers this)")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def test_a_really_full_disk_while_finishing(small_disk: Path) -> None:
    from labtasker.fsqueue import claim

    queue = FsQueue.create(small_disk / "q", "small")
    tid = tasks.submit(queue, args={"x": 1})["task_id"]
    got = claim.Claimer(queue, "w1").claim()
    assert got is not None
    filler = small_disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    with contextlib.suppress(OSError):  # fill the disk to the last byte
        while True:
            os.write(fd, b"x" * 512)
    os.close(fd)
    with pytest.raises(OSError, match="No space left"):
        tasks.finish(queue, got.name, "success", summary={"acc": 0.9})
    found = queue.find(tid)
    assert found is not None and (found.dirname, found.busy) == ("running", False)  # visible, still ours
    assert not [n for n in os.listdir(queue.tmp) if n.startswith(("held.", "w."))]  # nothing half-written
    filler.unlink()
    tasks.finish(queue, got.name, "success", summary={"acc": 0.9})
    assert queue.find(tid).doc["summary"] == {"acc": 0.9}
    assert fsck(queue).clean
