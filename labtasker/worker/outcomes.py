"""How an attempt ends: recorded on its task, and in ``attempts/`` when it is not the task's state.

A finished run moves its task (done, back to pending with a retry counted, or
failed); a run stopped by a signal goes back to pending with no retry counted;
an attempt that is no longer the task's current state (a retried failure, an
interrupted run, a reclaim's reason once a later attempt succeeded) is kept in
``attempts/`` as its history. A run whose task was taken away keeps its late
result there too (``tasks.finish``).
"""

from __future__ import annotations

import logging
import re
import signal
import time
from typing import Any

from labtasker.errors import LeaseLost
from labtasker.fsqueue import attempts, clock, error_record, layout, tasks, transitions, workers
from labtasker.fsqueue.store import FsQueue
from labtasker.worker.attempt import Run
from labtasker.worker.lease_keeper import ETA, FENCED, LOST

log = logging.getLogger("labtasker")


def attempt_recorded(run: Run) -> bool:
    """True if this run already left its result in attempts/ (its report found the task gone)."""
    start = run.task.start_time
    if start is None:
        return False
    return attempts.kept_since(run.queue, run.task_id, run.worker_id, tasks.LATE_RESULT, start)


def ended_outcome(run: Run, how: str) -> str:
    """The job reported its final status itself; the loop keeps it."""
    status = status_now(run)
    if status == "cancelled":
        return "cancelled"
    if how == "error" or status in ("pending", "failed"):
        return "failed"
    return "done"


_STOP_TYPES = {ETA: "EtaExceeded", FENCED: "LeaseNotRenewed", LOST: "LeaseLost"}


def stop_record(run: Run) -> dict[str, Any]:
    stamp = clock.now().isoformat(timespec="seconds")
    names = {ETA: "eta_max exceeded", FENCED: "lease not renewed", LOST: "lease lost"}
    what = names.get(run.stop_kind, "stopped")
    message = f"{what}: {run.stop_reason}; worker {run.worker_id} stopped the job at {stamp}"
    return error_record.make(_STOP_TYPES.get(run.stop_kind, "JobStopped"), message)


def tell_lost(run: Run) -> None:
    """Say where the task went, since this worker's run no longer counts."""
    found = run.queue.find(run.task_id)
    where = "it is gone (deleted)"
    if found is not None:
        doc = found.doc
        where = f"it is now {layout.status_value(found.dirname)}"
        if doc.get("worker_id") and doc.get("worker_id") != run.worker_id:
            where += f" (worker {doc['worker_id']})"
        if found.dirname in ("pending", "failed") and doc.get("last_error"):
            where += f"; last error: {error_record.headline(doc['last_error'])}"
    log.warning(
        "task %s was taken from worker %s; %s. This run's result is in attempts/",
        run.task_id,
        run.worker_id,
        where,
    )


def end(
    run: Run,
    status: str,
    backoff: float,
    *,
    error: dict[str, Any] | None = None,
    summary: dict[str, Any] | None = None,
) -> str:
    """Record how a run ended on its task: "done", "failed", "cancelled" or "lost"."""
    try:
        located = tasks.finish(
            run.queue, run.running_name, status, summary=summary, error=error, backoff=backoff
        )
    except LeaseLost:
        return "lost"
    if located.dirname == "cancelled":  # the job asked for it
        return "cancelled"
    if located.dirname in ("failed", "pending"):
        workers.record_failure(run.queue, run.worker_id)
        return "failed"  # a failure that is retried: tasks.finish kept it in attempts/
    workers.record_success(run.queue, run.worker_id)
    if isinstance(run.previous_error, str) and run.previous_error:
        # a reclaim's reason (the loop keeps its own failures as they happen): history, not current
        owner = re.search(r": worker (\S+);", run.previous_error)
        record_attempt(
            run, "failed", run.previous_error, "reclaimed", worker_id=owner.group(1) if owner else None
        )
    return "done"


def release(run: Run, when: str, *, count: bool, backoff: float) -> str:
    """A signal stopped the loop: the task back to pending at once, no retry counted (unless
    ``count_interrupts``), the attempt recorded in attempts/."""
    if run.keeper is not None:
        run.keeper.stop()
    name = signal.Signals(run.signum or signal.SIGINT).name
    record = error_record.make("Interrupted", f"stopped by {name} {when}")
    if count:
        end(run, "failed", backoff, error=record)
        return "interrupted"
    if not put_back(run.queue, run.running_name):
        return "lost"
    record_attempt(run, "interrupted", record, f"stopped by {name}; back to pending, no retry counted")
    return "interrupted"


def put_back(queue: FsQueue, running_name: str) -> bool:
    """A running task back to pending at once, no retry counted; False if its file is gone."""
    stamp = clock.now()

    def change(doc: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return "pending", transitions.release(doc, stamp)

    for wait in (0.0, 0.05, 0.2, 0.5):  # an edit may hold the running file for a moment
        time.sleep(wait)
        try:
            queue.transact("running", running_name, change)
            return True
        except FileNotFoundError:
            continue
    return False


def record_attempt(run: Run, status: str, error: Any, reason: str, worker_id: str | None = "") -> None:
    """Keep an attempt that is no longer the task's current state in attempts/ (its history)."""
    attempts.keep_run(
        run.queue,
        task_id=run.task_id,
        worker_id=run.worker_id if worker_id == "" else worker_id,
        status=status,
        error=error,
        reason=reason,
        start_time=run.task.start_time,
        finished_at=clock.now(),
    )


def status_now(run: Run) -> str:
    found = run.queue.find(run.task_id)
    return layout.status_value(found.dirname) if found else "deleted"
