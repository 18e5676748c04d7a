"""Reading ``deleted/``: the tombstones that keep a deleted task from coming back.

``tasks.delete`` writes ``deleted/<task_id>--<node>.yaml`` with who deleted the
task (``node``), when (``deleted_at``, that node's clock) and the task's last
document (``task``). Replicas that deleted one task each leave their own
tombstone; ``first`` picks the one every replica shows.
"""

from __future__ import annotations

from typing import Any

from labtasker.fsqueue import attempts, layout
from labtasker.fsqueue.store import Doc, FsQueue

DIRNAME = "deleted"


def read(queue: FsQueue, task_id: str | None = None) -> dict[str, list[Doc]]:
    """Task id -> its tombstones (of one task, or of all), from one listing of ``deleted/``."""
    found: dict[str, list[Doc]] = {}
    for name in queue.names(DIRNAME):
        tid = layout.task_id_of(DIRNAME, name)
        if task_id is not None and tid != task_id:
            continue
        doc = queue.read(DIRNAME, name)
        if doc is not None:
            found.setdefault(tid, []).append(doc)
    return found


def first(tombs: list[Doc]) -> Doc:
    """The deletion shown for a task deleted on several replicas: the earliest, then by node."""
    return min(
        tombs, key=lambda d: (attempts.as_time(d.get("deleted_at")) or attempts.LATEST, str(d.get("node")))
    )


def record(task_id: str, tombs: list[Doc]) -> dict[str, Any]:
    """A deleted task as views show it: its last document, status ``deleted``, who deleted it when."""
    tomb = first(tombs)
    found = tomb.get("task")
    task: Doc = found if isinstance(found, dict) else {}
    out: dict[str, Any] = {
        "task_id": task_id,
        "task_name": task.get("task_name"),
        "status": "deleted",
        "deleted_at": attempts.as_time(tomb.get("deleted_at")),
        "deleted_by": None if tomb.get("node") is None else str(tomb.get("node")),
        "was": task.get("status"),
    }
    out.update((k, task[k]) for k in ("args", "metadata", "summary", "created_at") if k in task)
    return out
