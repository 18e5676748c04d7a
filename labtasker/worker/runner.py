"""The worker loop shared by ``@labtasker.loop()`` and ``labtasker loop``.

Claim a matching task, run the job with its lease renewed, record the outcome,
repeat until no matching pending task is left (or, with ``wait``, until
stopped). The job is a callable; the CLI passes one that runs a command, the
decorator one that calls a function.

While it runs, the loop holds a liveness lock and, whenever it looks for work,
sweeps stale leases (at most every few seconds), so a task whose worker died
comes back without any monitor. When the job must stop (its lease was lost,
could not be renewed, or it ran past ``eta_max``), a job that watches
``run.lease_lost`` (or registered ``run.on_stop``) stops itself; any other job
gets ``JobStopped`` raised inside it.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from labtasker.api_models import Task
from labtasker.errors import LeaseLost, WorkerCrashed
from labtasker.fsqueue import claim, clock, layout, lease, locking, tasks, workers
from labtasker.fsqueue.reaper import Reaper
from labtasker.fsqueue.store import FsQueue, Located
from labtasker.worker.lease_keeper import ETA, FENCED, LOST, LeaseKeeper

log = logging.getLogger("labtasker")


class JobStopped(BaseException):
    """Raised inside a job that must stop: its lease is gone or it ran past eta_max.

    A BaseException, so that a job's own ``except Exception`` does not swallow it.
    """


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
    stopping: threading.Event = field(default_factory=threading.Event, repr=False)
    stop_kind: str = ""  # lost, fenced or eta (see lease_keeper)
    stop_reason: str = ""
    _ended: bool = field(default=False, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _job_thread: int | None = field(default=None, repr=False)
    _stops_itself: bool = field(default=False, repr=False)
    _on_stop: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @property
    def task_id(self) -> str:
        return self.task.task_id

    @property
    def ended(self) -> bool:
        """The job already reported a final status itself (nothing left to renew)."""
        return self._ended

    @ended.setter
    def ended(self, value: bool) -> None:
        self._ended = value
        if value and self.keeper is not None:
            self.keeper.stop()

    @property
    def lease_lost(self) -> bool:
        """True once the job must stop; a job that checks this is left to stop itself."""
        self._stops_itself = True
        return self.stopping.is_set()

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from another thread) when the job must stop, instead of interrupting it."""
        with self._guard:
            self._on_stop.append(callback)
            self._stops_itself = True
            now = self.stopping.is_set()
        if now:
            callback()

    def env(self) -> dict[str, str]:
        """Variables a job's subprocess gets so ``task_info()`` works inside it."""
        return {
            "LABTASKER_TASK_ID": self.task_id,
            "LABTASKER_WORKER_ID": self.worker_id,
            "LABTASKER_LOG_DIR": str(self.log_dir),
            "LABTASKER_QUEUE_DIR": str(self.queue.path),
        }

    def _stop(self, kind: str, reason: str) -> None:
        """Called by the lease keeper: the job must stop now."""
        with self._guard:
            if self._ended or self.stopping.is_set():
                return
            self.stop_kind, self.stop_reason = kind, reason
            self.stopping.set()
            callbacks = list(self._on_stop)
            if not self._stops_itself and self._job_thread is not None:
                _raise_in(self._job_thread, JobStopped)
        log.warning("task %s: %s; stopping its job", self.task_id, reason)
        for callback in callbacks:
            callback()

    def _arm(self) -> None:
        with self._guard:
            if self.stopping.is_set() and not self._stops_itself:
                raise JobStopped  # told to stop before the job even began
            self._job_thread = threading.get_ident()

    def _disarm(self) -> None:
        with self._guard:
            self._job_thread = None  # no interruption from now on
        _checkpoint()  # one sent just before is raised here, still inside the job's try


def _checkpoint() -> None:
    """Entering a Python function is where a pending interruption is raised."""


def _raise_in(thread_id: int, exc: type[BaseException]) -> None:
    """Raise ``exc`` in another thread when it next enters Python code.

    (Never "cancelled" with NULL: that leaves the interpreter checking for it on
    every instruction from then on.)
    """
    try:
        setter = ctypes.pythonapi.PyThreadState_SetAsyncExc
    except AttributeError:  # pragma: no cover - not CPython: the job runs to its end
        return
    setter(ctypes.c_ulong(thread_id), ctypes.py_object(exc))


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
    wait: bool = False  # when no task is left, wait for new ones instead of returning
    sweep_every: float | None = None  # default: the heartbeat interval, at most 5 s
    polling: bool | None = None  # how --wait watches pending/ (None: polling on network filesystems)


def run_loop(queue: FsQueue, job: Job, opts: LoopOptions, notify: Notify | None = None) -> Tally:
    """Run ``job`` on matching tasks until none is left (or forever with ``wait``); return the tally."""
    terms = lease.make_terms(opts.heartbeat_interval, opts.heartbeat_timeout, opts.eta_max)
    worker_id = _register(queue, opts)
    tally = Tally()
    every = opts.sweep_every or min(5.0, terms.interval)
    with (
        locking.WorkerLock(queue, worker_id) as lock,
        Reaper(queue, terms, every=every) as sweeper,
        _Idle(queue, opts.polling) as idle,
    ):
        claimer = claim.Claimer(queue, worker_id, opts.accept)
        host = locking.host_key()
        while opts.max_tasks is None or tally.total < opts.max_tasks:
            held = _held_back(queue, worker_id)
            if held:  # suspended (or crashed) since the loop began: it takes no more tasks
                tally.crashed = held
                log.error("%s", held)
                break
            found = _next_task(
                claimer,
                sweeper,
                idle,
                opts.wait,
                lambda: {
                    "lease": lease.lease_info(
                        terms, host=host, lock=lock.name, skew=sweeper.skew, node=queue.node
                    )
                },
            )
            if found is None:
                break
            got, claimed_at = found
            run = Run(
                queue,
                got.name,
                Task.from_doc(got.doc),
                worker_id,
                _log_dir(opts.logs_dir, got.doc["task_id"]),
            )
            _write_task_info(run)
            outcome = _run_one(run, job, lease.terms_of(got.doc, terms), claimed_at)
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


def _next_task(
    claimer: claim.Claimer, sweeper: Reaper, idle: _Idle, wait: bool, fields: Callable[[], dict[str, Any]]
) -> tuple[Located, float] | None:
    """The next task to run and when it was claimed (monotonic); None when there is none.

    Stale leases are swept on the way, at most once per ``sweeper.every``. With
    nothing pending but a lease that looks stale, the loop watches it for up to
    one timeout before it gives up (a renewing owner keeps it forever).
    """
    patience = sweeper.defaults.timeout + sweeper.cache + 2 * sweeper.every
    idle_since = None
    while True:
        sweeper.maybe_sweep()
        claimer.fields = fields()
        claimed_at = time.monotonic()  # no later than the lease's first mtime
        got = claimer.claim()
        if got is not None:
            return got, claimed_at
        now = time.monotonic()
        idle_since = idle_since or now
        pause = max(0.0, sweeper.next_due() - now)
        if wait:
            idle.wait(max(0.05, pause))
        elif sweeper.last.suspects and now - idle_since < patience:  # not confirmed yet: look again
            time.sleep(pause)
        else:
            return None


def tally_failures(queue: FsQueue, worker_id: str) -> int:
    try:
        return int(workers.get(queue, worker_id).get("retries") or 0)
    except KeyError:
        return 0


def _run_one(run: Run, job: Job, terms: lease.Terms, claimed_at: float) -> str:
    keeper = LeaseKeeper(
        run.queue,
        run.running_name,
        terms.interval,
        terms.give_up_after,
        eta=terms.eta,
        on_stop=run._stop,
        started=claimed_at,
    )
    run.keeper, run.eta_max = keeper, terms.eta
    with keeper:
        how, exc = _call(run, job)
    if how in ("lost", "stopped") and _attempt_recorded(run):
        _tell_lost(run)  # the job's own report found the task gone and kept its result
        return "lost"
    if run.ended:
        ended = _ended_outcome(run, how)
        if ended == "failed":  # finish("failed") counts against the worker like a raised exception
            workers.record_failure(run.queue, run.worker_id)
        return ended
    if how == "stopped":
        outcome = _end(run, "failed", error=_stop_error(run))
    elif how == "lost":
        outcome = _end(run, "failed", error=f"{type(exc).__name__}: {exc}")
    elif how == "error":
        assert exc is not None
        error = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        outcome = _end(run, "failed", error=error, summary=_exception_summary(exc, error))
    else:
        outcome = _end(run, "success")  # if the lease was lost, this keeps the result in attempts/
    if outcome == "lost":
        _tell_lost(run)
    return outcome


def _call(run: Run, job: Job) -> tuple[str, Exception | None]:
    """Run the job: ("ok" | "error" | "stopped" | "lost", the job's exception)."""
    try:
        try:
            run._arm()
            job(run)
        finally:
            run._disarm()
    except JobStopped:
        return "stopped", None
    except (StopLoop, KeyboardInterrupt):
        _release(run)
        raise
    except Exception as exc:  # the job's failure is data, recorded on the task
        if run.stopping.is_set():
            return "stopped", exc  # most likely our stop made it fail
        return ("lost" if isinstance(exc, LeaseLost) else "error"), exc
    if run.stopping.is_set() and run.stop_kind == ETA:
        return "stopped", None
    return "ok", None


def _attempt_recorded(run: Run) -> bool:
    """True if this run already left its result in attempts/ (its report found the task gone)."""
    start = run.task.start_time
    prefix = f"{run.task_id}{layout.SEP}{run.worker_id}{layout.SEP}"
    for name in run.queue.names("attempts"):
        doc = run.queue.read("attempts", name) if name.startswith(prefix) else None
        if (
            doc is not None
            and start is not None
            and isinstance(doc.get("finished_at"), datetime)
            and doc["finished_at"] >= start
        ):
            return True
    return False


def _ended_outcome(run: Run, how: str) -> str:
    """The job reported its final status itself; the loop keeps it."""
    status = _status_now(run)
    if status == "cancelled":
        return "cancelled"
    if how == "error" or status in ("pending", "failed"):
        return "failed"
    return "done"


def _stop_error(run: Run) -> str:
    stamp = clock.now().isoformat(timespec="seconds")
    names = {ETA: "eta_max exceeded", FENCED: "lease not renewed", LOST: "lease lost"}
    what = names.get(run.stop_kind, "stopped")
    return f"{what}: {run.stop_reason}; worker {run.worker_id} stopped the job at {stamp}"


def _tell_lost(run: Run) -> None:
    """Say where the task went, since this worker's run no longer counts."""
    found = run.queue.find(run.task_id)
    where = "it is gone (deleted)"
    if found is not None:
        doc = found.doc
        where = f"it is now {layout.status_value(found.dirname)}"
        if doc.get("worker_id") and doc.get("worker_id") != run.worker_id:
            where += f" (worker {doc['worker_id']})"
        if found.dirname in ("pending", "failed") and doc.get("last_error"):
            where += f"; last error: {str(doc['last_error']).splitlines()[0]}"
    log.warning(
        "task %s was taken from worker %s; %s. This run's result is in attempts/",
        run.task_id,
        run.worker_id,
        where,
    )


def _end(run: Run, status: str, *, error: str | None = None, summary: dict[str, Any] | None = None) -> str:
    try:
        located = tasks.finish(run.queue, run.running_name, status, summary=summary, error=error)
    except LeaseLost:
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
    if run.keeper is not None:
        run.keeper.stop()
    try:

        def change(doc: dict[str, Any]) -> tuple[str, dict[str, Any]]:
            doc.update(worker_id=None, start_time=None, last_heartbeat=None, last_modified=clock.now())
            doc.pop("lease", None)
            return "pending", doc

        run.queue.transact("running", run.running_name, change)
    except FileNotFoundError:
        pass


def _status_now(run: Run) -> str:
    found = run.queue.find(run.task_id)
    return layout.status_value(found.dirname) if found else "deleted"


class _Idle:
    """Waits for new pending tasks (``--wait``), woken by file events, not by polling."""

    def __init__(self, queue: FsQueue, polling: bool | None) -> None:
        self.queue, self.polling = queue, polling
        self._watch: Any = None
        self._woken = threading.Event()

    def __enter__(self) -> _Idle:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._watch is not None:
            self._watch.stop()

    def wait(self, timeout: float) -> None:
        """Return when something changed in pending/, or after ``timeout`` seconds."""
        if self._watch is None:
            from labtasker.events import Watch

            self._watch = Watch(
                self.queue.path, lambda _path: self._woken.set(), polling=self.polling, subdirs=("pending",)
            ).start()
        self._woken.wait(timeout)
        self._woken.clear()


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
        if doc.get("status") in ("crashed", "suspended"):
            raise WorkerCrashed(
                f"worker {opts.worker_id} is marked {doc['status']}; reactivate it with "
                f"`labtasker worker report {opts.worker_id} active` or use another worker id"
            )
        return opts.worker_id
    return str(workers.create(queue, **opts.create_worker_kwargs)["worker_id"])


def _held_back(queue: FsQueue, worker_id: str) -> str:
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
