"""Replicas of one queue on this machine, driven by the real core, and ways to copy between them."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from labtasker.fsqueue import claim, codec, layout, tasks
from labtasker.fsqueue.layout import STATE_DIRS
from labtasker.fsqueue.store import FsQueue, Located
from labtasker.replicas import reconcile

LOCAL = ("tmp", "quarantine", ".gitignore", ".git")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


class Replica:
    """One copy of a queue with its own node id; each call is one user or worker action."""

    def __init__(self, path: Path, node: str, *, create: bool = True, skew: float = 0.0) -> None:
        self.path = path
        self.node = node
        self.skew = timedelta(seconds=skew)  # this machine's clock error
        self.queue = FsQueue.create(path, "sweep", node=node, now=T0) if create else FsQueue(path, node=node)
        self.ticks = 0

    def now(self) -> datetime:
        """A clock of its own: every action a little later (replicas' clocks need not agree)."""
        self.ticks += 1
        return T0 + self.skew + timedelta(seconds=self.ticks)

    def submit(self, **fields: Any) -> str:
        return str(tasks.submit(self.queue, now=self.now(), **fields)["task_id"])

    def claim(self, task_id: str | None = None, worker: str = "w") -> Located | None:
        accept = None if task_id is None else (lambda d: d["task_id"] == task_id)
        return claim.Claimer(self.queue, f"{self.node}.{worker}", accept).claim(self.now())

    def finish(self, got: Located, status: str = "success", summary: dict[str, Any] | None = None) -> Located:
        return tasks.finish(
            self.queue,
            got.name,
            status,
            summary=summary,
            error="boom" if status == "failed" else None,
            now=self.now(),
            backoff=0,  # a replica's clock ticks a second per action: no retry waits here
        )

    def run(self, task_id: str | None = None, status: str = "success", **summary: Any) -> str | None:
        """Claim a task (that one, or the next) and end its run; the task id, or None if none was free."""
        got = self.claim(task_id)
        if got is None:
            return None
        self.finish(got, status, summary or {"by": self.node})
        return str(got.doc["task_id"])

    def edit(self, task_id: str, fields: dict[str, Any], **kw: Any) -> None:
        tasks.update(self.queue, task_id, fields, now=self.now(), **kw)

    def requeue(self, task_id: str) -> None:
        tasks.update(self.queue, task_id, {}, reset_pending=True, now=self.now())

    def cancel(self, task_id: str) -> None:
        tasks.update(self.queue, task_id, {"status": "cancelled"}, now=self.now())

    def delete(self, task_id: str) -> None:
        tasks.delete(self.queue, task_id, now=self.now())

    def reconcile(self) -> reconcile.Report:
        return reconcile.reconcile(self.queue, now=self.now())

    # ------------------------------------------------------------ looking
    def files(self) -> dict[str, bytes]:
        """Every file replicas exchange, by path, with its bytes."""
        return files_of(self.path)

    def where(self) -> dict[str, list[str]]:
        """Task id -> the state directories it is in."""
        out: dict[str, list[str]] = {}
        for dirname in STATE_DIRS.values():
            for name in self.queue.names(dirname):
                out.setdefault(layout.task_id_of(dirname, name), []).append(dirname)
        return out

    def doc(self, task_id: str) -> dict[str, Any]:
        found = self.queue.find(task_id)
        assert found is not None, f"{task_id} not on {self.node}"
        return dict(found.doc, dirname=found.dirname)

    def attempts(self, task_id: str) -> list[dict[str, Any]]:
        return [
            codec.load((self.path / "attempts" / n).read_bytes())
            for n in self.queue.names("attempts")
            if n.startswith(task_id)
        ]


def files_of(path: Path) -> dict[str, bytes]:
    out = {}
    for folder, dirs, names in os.walk(path):
        rel = Path(folder).relative_to(path)
        dirs[:] = [d for d in dirs if not (rel == Path(".") and d in LOCAL)]
        for name in names:
            if rel == Path(".") and name in LOCAL:
                continue
            out[str(rel / name)] = (Path(folder) / name).read_bytes()
    return out


def copy_into(src: Path, dst: Path) -> int:
    """What ``rsync -a --checksum --backup`` does: copy every file whose content differs,
    keeping the replaced one as ``name~``; never delete. Returns the number of files copied."""
    copied = 0
    for rel, data in files_of(src).items():
        target = dst / rel
        if target.exists():
            if target.read_bytes() == data:
                continue
            os.replace(target, target.with_name(target.name + "~"))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / rel, target)
        copied += 1
    return copied


def rsync_into(src: Path, dst: Path) -> None:
    """The documented rsync recipe (docs/git-rsync-sync.md)."""
    subprocess.run(
        [
            "rsync",
            "-a",
            "--checksum",
            "--backup",
            "--exclude=tmp/",
            "--exclude=quarantine/",
            f"{src}/",
            f"{dst}/",
        ],
        check=True,
    )


def check_invariants(replica: Replica) -> None:
    """What must hold on a replica after every reconcile."""
    for tid, dirs in replica.where().items():
        assert len(dirs) == 1, f"{tid} in {dirs} on {replica.node}"
    tombs = {layout.task_id_of("deleted", n) for n in replica.queue.names("deleted")}
    assert not tombs & set(replica.where()), f"deleted tasks still present on {replica.node}"
    for rel in replica.files():
        assert not layout.is_alternate_copy(Path(rel).name), f"{rel} left on {replica.node}"
    for dirname in STATE_DIRS.values():
        for name in replica.queue.names(dirname):
            doc = codec.load((replica.path / dirname / name).read_bytes())
            assert doc["status"] == layout.status_value(dirname), f"{dirname}/{name}"
    assert not os.listdir(replica.path / "quarantine"), f"quarantined on {replica.node}"
