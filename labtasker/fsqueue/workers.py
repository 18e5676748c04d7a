"""Worker documents (``workers/<worker_id>.yaml``): who runs, how often it failed."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from labtasker.errors import WorkerBusy, WorkerNotFound
from labtasker.fsqueue import clock, ids, layout, locking
from labtasker.fsqueue.backoff import Backoff
from labtasker.fsqueue.documents import expand
from labtasker.fsqueue.store import Doc, FsQueue

BUSY_WAIT = 10.0  # seconds a change waits while another process has the worker in hand
WORKER_STATUSES = ("active", "suspended", "crashed", "exited")  # exited: its loop ended


def create(
    queue: FsQueue,
    *,
    worker_name: str | None = None,
    metadata: dict[str, Any] | None = None,
    max_retries: int = 3,
    worker_id: str | None = None,
    now: datetime | None = None,
) -> Doc:
    """Register a worker; its id carries the node so replicas never collide."""
    stamp = now or clock.now()
    wid = ids.check_id(worker_id, "worker id") if worker_id else f"{queue.node}.{ids.nonce(5)}"
    doc = {
        "worker_id": wid,
        "worker_name": worker_name,
        "status": "active",
        "retries": 0,
        "max_retries": int(max_retries),
        "metadata": expand(metadata, "metadata"),
        "node": queue.node,
        "pid": os.getpid(),
        "host": locking.host_key(),  # where its pid means something (worker ls tells a dead loop)
        "created_at": stamp,
        "last_modified": stamp,
    }
    queue.put("workers", doc)
    return doc


def get(queue: FsQueue, worker_id: str) -> Doc:
    doc = queue.read("workers", f"{worker_id}.yaml")
    if doc is None:
        raise WorkerNotFound(f"no worker with id {worker_id!r} in {queue.path}")
    return doc


def change(queue: FsQueue, worker_id: str, fn: Any, *, wait: float = BUSY_WAIT) -> Doc:
    """Take, change, put a worker document.

    Two processes may change one worker at once (its loop counting a failure,
    a sweeper marking it crashed): while the other has the file in hand, wait
    and apply ``fn`` to its result. WorkerNotFound only when no file of the
    worker exists, in place or in hand; WorkerBusy after ``wait`` seconds.
    """
    name = f"{worker_id}{layout.SUFFIX}"
    backoff = Backoff(wait)
    misses = 0
    while True:
        try:
            located = queue.transact("workers", name, lambda d: ("workers", fn(d)))
        except FileNotFoundError:
            pass
        else:
            assert located is not None
            return located.doc
        if queue.in_hand("workers", name) or (queue.path / "workers" / name).exists():
            misses = 0
        else:
            misses += 1  # a look between take and put can miss both: look thrice
            if misses >= 3:
                raise WorkerNotFound(f"no worker with id {worker_id!r} in {queue.path}")
        if not backoff.sleep():
            raise WorkerBusy(
                f"worker {worker_id} is busy: another process has had it in hand for {wait:g}s; try again"
            )


def set_status(queue: FsQueue, worker_id: str, status: str, now: datetime | None = None) -> Doc:
    if status not in WORKER_STATUSES:
        raise ValueError(f"unknown worker status {status!r}: use one of {', '.join(WORKER_STATUSES)}")

    def fn(doc: Doc) -> Doc:
        doc["status"] = status
        if status == "active":
            doc["retries"] = 0
        doc["last_modified"] = now or clock.now()
        return doc

    return change(queue, worker_id, fn)


def record_failure(queue: FsQueue, worker_id: str, now: datetime | None = None) -> Doc:
    """Count a failed task; after ``max_retries`` failures in a row the worker is crashed."""

    def fn(doc: Doc) -> Doc:
        doc["retries"] = int(doc.get("retries") or 0) + 1
        if doc["retries"] >= int(doc.get("max_retries") or 0):
            doc["status"] = "crashed"
        doc["last_modified"] = now or clock.now()
        return doc

    return change(queue, worker_id, fn)


def record_success(queue: FsQueue, worker_id: str, now: datetime | None = None) -> Doc | None:
    """A success clears the failure count (only written when there is one)."""
    doc = queue.read("workers", f"{worker_id}.yaml")
    if doc is None or not doc.get("retries"):
        return doc

    def fn(d: Doc) -> Doc:
        d["retries"] = 0
        d["last_modified"] = now or clock.now()
        return d

    return change(queue, worker_id, fn)


def delete(queue: FsQueue, worker_id: str) -> None:
    try:
        os.unlink(queue.path / "workers" / f"{worker_id}.yaml")
    except FileNotFoundError:
        raise WorkerNotFound(f"no worker with id {worker_id!r} in {queue.path}") from None
