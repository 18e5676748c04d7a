"""Task operations over a queue directory: submit, update, cancel, delete, finish.

Each is one take/change/put through ``FsQueue.transact``; a lost race surfaces
as ``LostRace`` or ``TaskNotFound``, never as a half-made change.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from labtasker.errors import LeaseLost, TaskBusy, TaskNotFound
from labtasker.fsqueue import atomic, attempts, clock, ids, layout, transitions
from labtasker.fsqueue.backoff import Backoff
from labtasker.fsqueue.documents import new_task
from labtasker.fsqueue.layout import STATE_DIRS, TaskStatus
from labtasker.fsqueue.store import Doc, FsQueue, Located
from labtasker.record import Record

BUSY_WAIT = 10.0  # seconds a change waits for a task in someone else's hand before saying "busy"
FINISH_WAIT = 60.0  # a worker waits longer: its result must not be lost to an editor
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


class Batch(Record):
    """What a bulk submit did: every id of the batch, and how many were in the queue already."""

    _fields = ("ids", "already")
    ids: list[str]
    already: int

    def __init__(self, ids: list[str], already: int) -> None:
        self._init(ids=ids, already=already)


def submit_batch(
    queue: FsQueue, tasks: Iterable[dict[str, Any]], *, now: datetime | None = None, again: bool = False
) -> Batch:
    """Submit a batch that can be resumed: running it again submits only the tasks that did not get in.

    Each task's id comes from the batch's content and its position, so after a
    killed run the same batch finds its tasks by id and writes the rest.
    ``again`` submits the same content as a new batch (new ids).
    """
    stamp = now or clock.now()
    specs = list(tasks)
    for spec in specs:  # every task checked before anything is written
        new_task(task_id="check", now=stamp, node=queue.node, **spec)
    text = json.dumps(specs, sort_keys=True, default=repr, ensure_ascii=False)
    salt = ids.nonce(8) if again else ""
    import hashlib  # only for a bulk submit

    digest = hashlib.sha256((salt + text).encode("utf-8", "surrogatepass")).digest()
    batch_ids = ids.batch_task_ids(digest, len(specs))
    present = queue.task_ids()
    already = 0
    for task_id, spec in zip(batch_ids, specs, strict=True):
        if task_id in present:
            already += 1
            continue
        queue.put("pending", new_task(task_id=task_id, now=stamp, node=queue.node, **spec))
    atomic.fsync_dir(queue.path / "pending")
    return Batch(batch_ids, already)


def locate(queue: FsQueue, task_id: str) -> Located:
    """Find a task or raise TaskNotFound."""
    found = queue.find(task_id)
    if found is None:
        raise TaskNotFound(f"no task with id {task_id!r} in {queue.path}")
    return found


def change_task(queue: FsQueue, task_id: str, change: Any, *, wait: float | None = None) -> Located | None:
    """Apply ``change`` (doc -> (status, doc) or None) to a task, wherever it is.

    If another process has the task in hand (a claim, an edit, a sweep), wait
    and look again: the change applies to the task's latest state. After
    ``wait`` seconds of that, TaskBusy; TaskNotFound only if no file of the
    task exists anywhere.
    """

    def step(doc: Doc) -> tuple[str, Doc] | None:
        result = change(doc)
        if result is None:
            return None
        status, new_doc = result
        return STATE_DIRS[status], new_doc

    backoff = Backoff(BUSY_WAIT if wait is None else wait)
    while True:
        where = locate(queue, task_id)
        if not where.busy:
            try:
                return queue.transact(where.dirname, where.name, step)
            except FileNotFoundError:
                pass
        if not backoff.sleep():
            raise TaskBusy(
                f"task {task_id} is busy: another process has had it in hand for "
                f"{backoff.limit:g}s; try again"
            )


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
        if doc["status"] in _TERMINAL:
            attempts.keep_replaced(queue, doc)  # its result outlives the task, as a re-queue keeps it
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

    An edit from another process holds the file in ``tmp/`` for a moment: that
    is "busy", not "gone" (the edit writes the file anew, which renews it too).
    """
    path = queue.path / "running" / running_name
    for _ in range(3):  # a file is always in place or in hand; a look between the two can miss both
        try:
            os.utime(path)
            return True
        except FileNotFoundError:
            pass
        if queue.in_hand("running", running_name):
            return True
        time.sleep(0.01)
    return False


def _while_in_hand(
    queue: FsQueue, running_name: str, act: Callable[[], Located | None], limit: float
) -> Located | None:
    """``act()`` on our running file, waiting while another process has it in hand; FileNotFoundError if gone."""
    backoff = Backoff(limit)
    misses = 0
    while True:
        try:
            return act()
        except FileNotFoundError:
            pass
        if queue.in_hand("running", running_name):
            misses = 0
        else:
            misses += 1
            if misses >= 3:
                raise FileNotFoundError(running_name)
        if not backoff.sleep():
            raise FileNotFoundError(running_name)


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
    retried: list[Doc] = []  # a failed run whose task goes back to pending, and the task: kept in attempts/

    def change(doc: Doc) -> tuple[str, Doc]:
        final = _requested(doc, status)
        if final == TaskStatus.FAILED and status != TaskStatus.FAILED:
            return _fail(doc, "the job reported failed")
        return _end_as(final, doc)

    def _fail(doc: Doc, why: Any) -> tuple[str, Doc]:
        before = copy.deepcopy(doc)
        new_status, new_doc = transitions.fail(doc, why, stamp, summary, backoff=backoff)
        if new_status == TaskStatus.PENDING:
            retried[:] = [before, copy.deepcopy(new_doc)]
        return STATE_DIRS[new_status], new_doc

    def _end_as(final: TaskStatus, doc: Doc) -> tuple[str, Doc]:
        if final == TaskStatus.SUCCESS:
            return "done", transitions.succeed(doc, summary, stamp)
        if final == TaskStatus.FAILED:
            return _fail(doc, error)
        transitions.merge_summary(doc, summary)
        if final == TaskStatus.CANCELLED:
            doc["last_modified"] = stamp
            return "cancelled", doc
        if final == TaskStatus.RUNNING:
            return "running", doc
        raise ValueError(f"a run cannot end as {final.value}")

    try:  # an edit may hold the file for a moment: wait for it, the result must land
        located = _while_in_hand(
            queue, running_name, lambda: queue.transact("running", running_name, change), FINISH_WAIT
        )
    except FileNotFoundError:
        located = None
    if located is not None:
        if retried and located.dirname == "pending":
            attempts.keep_failed(queue, *retried)
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

    # FileNotFoundError (the caller's "lease lost") only once no file of the run is in place or in hand
    _while_in_hand(queue, running_name, lambda: queue.transact("running", running_name, change), FINISH_WAIT)


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
    attempts.keep_run(
        queue,
        task_id=layout.task_id_of("running", running_name),
        worker_id=layout.worker_of_running(running_name),
        status=status.value,
        summary=summary,
        error=error,
        finished_at=now,
        reason=LATE_RESULT,
    )
