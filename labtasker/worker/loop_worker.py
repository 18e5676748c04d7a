"""The worker a loop runs as: registered when it starts, marked ``exited`` when it ends.

A worker notes its process, session and host (``pid``, ``sid``, ``host``) so that
loops started from one terminal or script can tell they share it and name
themselves in their lines, and ``worker ls`` can tell a loop that died.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from labtasker.errors import WorkerCrashed, WorkerNotFound
from labtasker.fsqueue import clock, layout, locking, workers
from labtasker.fsqueue.store import FsQueue

log = logging.getLogger("labtasker")


def register(queue: FsQueue, worker_id: str | None, create_kwargs: dict[str, Any]) -> str:
    """The worker a loop runs as (created, or reused when named), with its process and session noted."""
    if worker_id:
        try:
            doc = workers.get(queue, worker_id)
        except KeyError:
            doc = workers.create(queue, worker_id=worker_id, **create_kwargs)
        if doc.get("status") in ("crashed", "suspended"):
            raise WorkerCrashed(
                f"worker {worker_id} is marked {doc['status']}; reactivate it with "
                f"`labtasker worker report {worker_id} active` or use another worker id"
            )
    else:
        worker_id = str(workers.create(queue, **create_kwargs)["worker_id"])

    def here(doc: dict[str, Any]) -> dict[str, Any]:
        if doc.get("status") == "exited":
            doc["status"] = "active"  # a named worker starting again
        doc.update(pid=os.getpid(), sid=os.getsid(0), host=locking.host_key(), last_modified=clock.now())
        return doc

    workers.change(queue, worker_id, here)
    return worker_id


def settle(queue: FsQueue, worker_id: str, *, crashed: bool) -> None:
    """A loop that ends marks its worker ``exited`` (a crashed one stays crashed, a suspended one
    suspended; ``crashed=False`` after a crash that only drained the queue)."""

    def fn(doc: dict[str, Any]) -> dict[str, Any]:
        if doc.get("status") == "active" or (doc.get("status") == "crashed" and not crashed):
            doc["status"] = "exited"
        doc["last_modified"] = clock.now()
        return doc

    try:
        workers.change(queue, worker_id, fn)
    except (WorkerNotFound, OSError) as exc:
        log.debug("could not mark worker %s exited: %s", worker_id, exc)


def prefix(queue: FsQueue, worker_id: str) -> str:
    """``[name] `` when another live worker of this host runs in the same session (terminal, script)."""
    sid, me = os.getsid(0), os.getpid()
    for name in queue.names("workers"):
        doc = queue.read("workers", name)
        if (
            doc is None
            or doc.get("worker_id") == worker_id
            or doc.get("status") != "active"
            or doc.get("node") != queue.node
            or doc.get("sid") != sid
            or doc.get("pid") in (None, me)
        ):
            continue
        if alive(int(doc["pid"])):
            mine = queue.read("workers", f"{worker_id}{layout.SUFFIX}") or {}
            return f"[{mine.get('worker_name') or worker_id.rsplit('.', 1)[-1]}] "
    return ""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def gave_up(queue: FsQueue, worker_id: str) -> bool:
    try:
        return workers.get(queue, worker_id).get("status") == "crashed"
    except KeyError:
        return False


def failures_in_a_row(queue: FsQueue, worker_id: str) -> int:
    try:
        return int(workers.get(queue, worker_id).get("retries") or 0)
    except KeyError:
        return 0


def held_back(queue: FsQueue, worker_id: str) -> str:
    """Why this worker may take no more tasks ("" if it may): a user suspended it."""
    try:
        status = workers.get(queue, worker_id).get("status")
    except KeyError:
        return ""
    if status != "suspended":
        return ""
    return (
        f"worker {worker_id} is suspended, so this loop stops and takes no more tasks; "
        f"resume it with `labtasker worker report {worker_id} active`"
    )
