"""Task operations over a queue directory: submit, update, cancel, delete, finish.

Each is one take/change/put through ``FsQueue.transact``; a lost race surfaces
as ``LostRace`` or ``TaskNotFound``, never as a half-made change.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from labtasker.errors import LeaseLost, LostRace, TaskNotFound
from labtasker.fsqueue import atomic, attempts, clock, ids, layout, transitions
from labtasker.fsqueue.documents import new_task
from labtasker.fsqueue.layout import STATE_DIRS, TaskStatus
from labtasker.fsqueue.store import Doc, FsQueue, Located

_RETRIES_ON_RACE = 5
LATE_RESULT = "lease lost before the result was saved"  # the reason of a result kept in attempts/
_TERMINAL = tuple(s.value for s in layout.TERMINAL)


def submit(queue: FsQueue, *, now: datetime | None = None, **fields: Any) -> Doc:
    """Validate and write one pending task; nothing is written if a field is bad."""
    doc = new_task(task_id=ids.new_task_id(), now=now or clock.now(), node=queue.node, **fields)
    queue.put("pending", doc, durable_dir=True)
    return doc


def submit_many(queue: FsQueue, tasks: Iterable[dict[str, Any]], *, now: datetime | None = None) -> list[str]:
    """Submit a batch: every task validated first, then written, one directory sync at the end."""
    stamp = now or clock.now()
    docs = [new_task(task_id=ids.new_task_id(), now=stamp, node=queue.node, **t) for t in tasks]
    for doc in docs:
        queue.put("pending", doc)
    atomic.fsync_dir(queue.path / "pending")
    return [doc["task_id"] for doc in docs]


def locate(queue: FsQueue, task_id: str) -> Located:
    """Find a task or raise TaskNotFound."""
    found = queue.find(task_id)
    if found is None:
        raise TaskNotFound(f"no task with id {task_id!r} in {queue.path}")
    return found


def change_task(queue: FsQueue, task_id: str, change: Any) -> Located | None:
    """Apply ``change`` (doc -> (status, doc) or None) to a task, wherever it is.

    If another process moves the task between the lookup and the take, look
    again: the change applies to the task's latest state.
    """
    for _ in range(_RETRIES_ON_RACE):
        where = locate(queue, task_id)

        def step(doc: Doc) -> tuple[str, Doc] | None:
            result = change(doc)
            if result is None:
                return None
            status, new_doc = result
            return STATE_DIRS[status], new_doc

        try:
            return queue.transact(where.dirname, where.name, step)
        except FileNotFoundError:
            continue
    raise LostRace(f"task {task_id} kept changing under us; try again")


def update(
    queue: FsQueue,
    task_id: str,
    fields: dict[str, Any],
    *,
    replace_fields: tuple[str, ...] = (),
    reset_pending: bool = False,
    now: datetime | None = None,
) -> Doc:
    """A user's edit of one task (see ``transitions.apply_update``)."""

    def change(doc: Doc) -> tuple[TaskStatus, Doc]:
        before = copy.deepcopy(doc) if doc["status"] in _TERMINAL else None
        status, new = transitions.apply_update(
            doc,
            fields,
            replace_fields=replace_fields,
            reset_pending=reset_pending,
            now=now or clock.now(),
            node=queue.node,
        )
        if before is not None and status.value != before["status"]:
            attempts.keep_replaced(queue, before)  # a re-queue or cancel keeps the result it replaces
        return status, new

    located = change_task(queue, task_id, change)
    assert located is not None
    return located.doc


def delete(queue: FsQueue, task_id: str, *, now: datetime | None = None) -> None:
    """Remove a task, leaving a tombstone so a replica cannot bring it back."""

    def change(doc: Doc) -> None:
        tomb = {
            "task_id": doc["task_id"],
            "deleted_at": now or clock.now(),
            "node": queue.node,
            "gen": int(doc.get("gen") or 0) + 1,
            "task": doc,
        }
        queue.put("deleted", tomb)
        return

    change_task(queue, task_id, change)


def heartbeat(queue: FsQueue, running_name: str) -> bool:
    """Renew a lease by touching its file; False if the task is no longer ours.

    An edit from another process holds the file in ``tmp/`` for a moment, so a
    missing file is looked for again before the lease is declared lost.
    """
    path = queue.path / "running" / running_name
    for wait in (0.0, 0.05, 0.2, 0.5):
        if wait:
            import time

            time.sleep(wait)
        try:
            os.utime(path)
            return True
        except FileNotFoundError:
            continue
    return False


def finish(
    queue: FsQueue,
    running_name: str,
    status: TaskStatus | str,
    *,
    summary: dict[str, Any] | None = None,
    error: Any = None,
    now: datetime | None = None,
    backoff: float = transitions.RETRY_BACKOFF,
) -> Located:
    """The owner ends its run: success, failure (retry after ``backoff``, or failed) or cancel.

    If the task is no longer in our running file (cancelled, reclaimed), the
    result goes to ``attempts/`` and LeaseLost is raised: a late result never
    overwrites another run's.
    """
    status = layout.parse_status(status)
    stamp = now or clock.now()

    def change(doc: Doc) -> tuple[str, Doc]:
        final = _requested(doc, status)
        if final == TaskStatus.FAILED and status != TaskStatus.FAILED:
            new_status, new_doc = transitions.fail(
                doc, "the job reported failed", stamp, summary, backoff=backoff
            )
            return STATE_DIRS[new_status], new_doc
        return _end_as(final, doc)

    def _end_as(final: TaskStatus, doc: Doc) -> tuple[str, Doc]:
        if final == TaskStatus.SUCCESS:
            return "done", transitions.succeed(doc, summary, stamp)
        if final == TaskStatus.FAILED:
            new_status, new_doc = transitions.fail(doc, error, stamp, summary, backoff=backoff)
            return STATE_DIRS[new_status], new_doc
        transitions.merge_summary(doc, summary)
        if final == TaskStatus.CANCELLED:
            doc["last_modified"] = stamp
            return "cancelled", doc
        if final == TaskStatus.RUNNING:
            return "running", doc
        raise ValueError(f"a run cannot end as {final.value}")

    for wait in (0.0, 0.05, 0.2, 0.5):  # an edit may hold the file for a moment
        if wait:
            import time

            time.sleep(wait)
        try:
            located = queue.transact("running", running_name, change)
        except FileNotFoundError:
            continue
        assert located is not None
        return located
    _record_attempt(queue, running_name, status, summary, error, stamp)
    raise LeaseLost(
        f"task {layout.task_id_of('running', running_name)} is no longer held by this worker "
        "(cancelled, reclaimed or deleted); this run's result was kept in attempts/"
    )


def request_status(
    queue: FsQueue, running_name: str, status: TaskStatus, summary: dict[str, Any] | None
) -> None:
    """A job (a subprocess of the loop) asks for its run to end with ``status``.

    Only the running file changes; the loop applies the status when the job
    exits, so the owner alone ever moves its task out of ``running/``.
    """

    def change(doc: Doc) -> tuple[str, Doc]:
        transitions.merge_summary(doc, summary)
        if status != TaskStatus.RUNNING:
            doc["requested_status"] = status.value
        return "running", doc

    if queue.transact("running", running_name, change) is None:  # pragma: no cover
        raise LeaseLost(running_name)


def _requested(doc: Doc, status: TaskStatus) -> TaskStatus:
    """The status a run ends with: a cancel its job asked for always wins, and any
    status it asked for wins over a plain successful exit."""
    if status == TaskStatus.RUNNING:
        return status
    asked = doc.pop("requested_status", None)
    if asked == TaskStatus.CANCELLED.value or (asked and status == TaskStatus.SUCCESS):
        return layout.parse_status(asked)
    return status


def _record_attempt(
    queue: FsQueue,
    running_name: str,
    status: TaskStatus,
    summary: dict[str, Any] | None,
    error: Any,
    now: datetime,
) -> None:
    task_id = layout.task_id_of("running", running_name)
    doc = {
        "task_id": task_id,
        "worker_id": layout.worker_of_running(running_name),
        "status": status.value,
        "summary": summary or {},
        "last_error": error,
        "finished_at": now,
        "node": queue.node,
        "reason": LATE_RESULT,
    }
    queue.put("attempts", doc)
