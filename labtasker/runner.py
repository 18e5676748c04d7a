"""The worker loop shared by ``@labtasker.loop()`` and ``labtasker loop``.

Claim a matching task, run the job with its lease renewed, record the outcome,
repeat until no matching pending task is left. The job is a callable; the CLI
passes one that runs a command, the decorator one that calls a function.
"""

from __future__ import annotations

import json
import logging
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labtasker.api_models import Task
from labtasker.errors import LeaseLost, WorkerCrashed
from labtasker.fsqueue import claim, clock, layout, tasks, workers
from labtasker.fsqueue.queue import FsQueue
from labtasker.lease_keeper import LeaseKeeper

log = logging.getLogger("labtasker")


@dataclass
class Run:
    """One attempt at one task, as the job and ``task_info()`` see it."""

    queue: FsQueue
    running_name: str
    task: Task
    worker_id: str
    log_dir: Path
    keeper: LeaseKeeper | None = None
    eta_max: float | None = None
    ended: bool = False  # the job already reported a final status itself

    @property
    def task_id(self) -> str:
        return self.task.task_id

    @property
    def lease_lost(self) -> bool:
        return self.keeper is not None and self.keeper.lost.is_set()

    def env(self) -> dict[str, str]:
        """Variables a job's subprocess gets so ``task_info()`` works inside it."""
        return {
            "LABTASKER_TASK_ID": self.task_id,
            "LABTASKER_WORKER_ID": self.worker_id,
            "LABTASKER_LOG_DIR": str(self.log_dir),
            "LABTASKER_QUEUE_DIR": str(self.queue.path),
        }


@dataclass
class Tally:
    """What a loop did, for its progress line and final summary."""

    done: int = 0
    failed: int = 0
    cancelled: int = 0
    lost: int = 0
    crashed: str = ""  # why the worker stopped early, if it did
    history: list[tuple[str, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.done + self.failed + self.cancelled + self.lost


Job = Callable[[Run], Any]
Notify = Callable[[str, Run, Tally], None]


class StopLoop(BaseException):
    """Raised by a job to end the whole loop (Ctrl-C): the task goes back to pending."""


@dataclass
class LoopOptions:
    accept: Callable[[dict[str, Any]], bool] | None = None
    worker_id: str | None = None
    create_worker_kwargs: dict[str, Any] = field(default_factory=dict)
    eta_max: float | None = None
    heartbeat_interval: float = 30.0
    heartbeat_timeout: float | None = None  # default: 3 intervals
    max_tasks: int | None = None
    logs_dir: Path | None = None


def run_loop(queue: FsQueue, job: Job, opts: LoopOptions, notify: Notify | None = None) -> Tally:
    """Run ``job`` on matching tasks until none is left; return the tally."""
    worker_id = _register(queue, opts)
    claimer = claim.Claimer(queue, worker_id, opts.accept)
    tally = Tally()
    timeout = opts.heartbeat_timeout or 3 * opts.heartbeat_interval
    while opts.max_tasks is None or tally.total < opts.max_tasks:
        got = claimer.claim()
        if got is None:
            break
        run = Run(queue, got.name, Task.from_doc(got.doc), worker_id,
                  _log_dir(opts.logs_dir, got.doc["task_id"]), eta_max=opts.eta_max)
        _write_task_info(run)
        outcome = _run_one(run, job, timeout, opts.heartbeat_interval)
        _count(tally, outcome, run)
        if notify is not None:
            notify(outcome, run, tally)
        if outcome == "failed" and _worker_gave_up(queue, worker_id):
            tally.crashed = (
                f"worker {worker_id} failed {tally_failures(queue, worker_id)} tasks in a row and was "
                "marked crashed, so this loop stops; fix the cause, then start a new loop"
            )
            log.error("%s", tally.crashed)
            break
    return tally


def tally_failures(queue: FsQueue, worker_id: str) -> int:
    try:
        return int(workers.get(queue, worker_id).get("retries") or 0)
    except KeyError:
        return 0


def _run_one(run: Run, job: Job, timeout: float, interval: float) -> str:
    keeper = LeaseKeeper(run.queue, run.running_name, interval, give_up_after=timeout * 2 / 3)
    run.keeper = keeper
    error: str | None = None
    try:
        with keeper:
            job(run)
    except StopLoop:
        _release(run)
        raise
    except LeaseLost:
        return "lost"
    except Exception as exc:  # the job's failure is data, recorded on the task
        error = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        if run.ended:
            return "failed"
        return _end(run, "failed", error=error, summary=_exception_summary(exc, error))
    if run.ended:
        return "cancelled" if _status_now(run) == "cancelled" else "done"
    return _end(run, "success")  # if the lease was lost, this keeps the result in attempts/


def _end(run: Run, status: str, *, error: str | None = None, summary: dict[str, Any] | None = None) -> str:
    try:
        located = tasks.finish(run.queue, run.running_name, status, summary=summary, error=error)
    except LeaseLost as exc:
        log.warning("%s", exc)
        return "lost"
    if located.dirname == "cancelled":  # the job asked for it
        return "cancelled"
    if located.dirname in ("failed", "pending"):
        workers.record_failure(run.queue, run.worker_id)
        return "failed"
    workers.record_success(run.queue, run.worker_id)
    return "done"


def _release(run: Run) -> None:
    """Ctrl-C: put the task back to pending without counting a retry."""
    try:
        def change(doc: dict[str, Any]) -> tuple[str, dict[str, Any]]:
            doc.update(worker_id=None, start_time=None, last_heartbeat=None, last_modified=clock.now())
            return "pending", doc

        run.queue.transact("running", run.running_name, change)
    except FileNotFoundError:
        pass


def _status_now(run: Run) -> str:
    found = run.queue.find(run.task_id)
    return layout.status_value(found.dirname) if found else "deleted"


def _exception_summary(exc: BaseException, text: str) -> dict[str, Any]:
    return {"labtasker_exception": {"type": type(exc).__name__, "message": str(exc), "traceback": text}}


def _count(tally: Tally, outcome: str, run: Run) -> None:
    setattr(tally, outcome, getattr(tally, outcome) + 1)
    tally.history.append((run.task_id, outcome))


def _register(queue: FsQueue, opts: LoopOptions) -> str:
    if opts.worker_id:
        try:
            doc = workers.get(queue, opts.worker_id)
        except KeyError:
            doc = workers.create(queue, worker_id=opts.worker_id, **opts.create_worker_kwargs)
        if doc.get("status") == "crashed":
            raise WorkerCrashed(
                f"worker {opts.worker_id} is marked crashed; reactivate it with "
                f"`labtasker worker report {opts.worker_id} active` or use another worker id"
            )
        return opts.worker_id
    return workers.create(queue, **opts.create_worker_kwargs)["worker_id"]


def _worker_gave_up(queue: FsQueue, worker_id: str) -> bool:
    try:
        return workers.get(queue, worker_id).get("status") == "crashed"
    except KeyError:
        return False


def _log_dir(logs_dir: Path | None, task_id: str) -> Path:
    base = logs_dir or (Path.cwd() / ".labtasker" / "logs")
    path = base / "run" / f"{layout.stamp(clock.now())}{layout.SEP}{task_id}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write_task_info(run: Run) -> None:
    info = run.task.to_dict()
    info["worker_id"] = run.worker_id
    (run.log_dir / "task_info.json").write_text(json.dumps(info, default=str, indent=2), encoding="utf-8")


def read_task_info(log_dir: str | os.PathLike[str]) -> Task:
    """The Task a loop handed to a subprocess (via ``LABTASKER_LOG_DIR``)."""
    from datetime import datetime

    data = json.loads((Path(log_dir) / "task_info.json").read_text(encoding="utf-8"))
    for key in ("created_at", "last_modified", "start_time", "last_heartbeat"):
        if isinstance(data.get(key), str):
            data[key] = datetime.fromisoformat(data[key])
    data.pop("queue_name", None)
    return Task(**data)
