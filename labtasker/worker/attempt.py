"""One attempt at one task (``Run``), as the job and ``task_info()`` see it, and how it is stopped.

A job must stop when its lease is lost or cannot be renewed, when it runs past
``eta_max``, or when the loop gets SIGINT, SIGTERM or SIGHUP. A job that watches
``run.lease_lost`` (or registered ``run.on_stop``) stops itself: the CLI's job
sends its command a signal, then SIGKILL after the grace period. Any other job
(a Python function) is interrupted where it stands: ``Interrupted`` (a
``KeyboardInterrupt``) for a signal, ``JobStopped`` for the rest, raised again
every half second while it keeps running. A function that still has not
returned after the grace period is given up: for a signal the loop ends the
process (the task already back in pending); otherwise the attempt is recorded
as failed and the lease released, so the worker never renews a lease for a job
it gave up on.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labtasker import run_context
from labtasker.api_models import Task
from labtasker.fsqueue.store import FsQueue
from labtasker.worker.interrupts import Interrupts
from labtasker.worker.lease_keeper import LeaseKeeper

log = logging.getLogger("labtasker")

SIGNAL = "signal"  # a stop kind beside lease_keeper's lost, fenced and eta
NUDGE_EVERY = 0.5  # seconds between interruptions of a Python job that keeps running
DEFAULT_GRACE = 10.0  # seconds a stopped job gets before the harder stop (below Slurm's KillWait of 30 s)


class JobStopped(BaseException):
    """Raised inside a job that must stop: its lease is gone or it ran past eta_max.

    A BaseException, so that a job's own ``except Exception`` does not swallow it.
    """


class Interrupted(KeyboardInterrupt):
    """Raised inside a Python job when the loop got SIGINT, SIGTERM or SIGHUP."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


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
    grace: float = DEFAULT_GRACE
    interrupts: Interrupts | None = field(default=None, repr=False)
    stopping: threading.Event = field(default_factory=threading.Event, repr=False)
    hard: threading.Event = field(default_factory=threading.Event, repr=False)  # stop now, no more grace
    stop_kind: str = ""  # lost, fenced, eta (see lease_keeper) or signal
    stop_reason: str = ""
    signum: int = 0  # the signal that stopped the loop, if one did
    exit_status: int | None = None  # the command's exit code (labtasker loop)
    previous_error: Any = None  # the task's last_error when claimed (cleared if this run succeeds)
    given_up: Callable[[Run], None] | None = field(default=None, repr=False)  # set by the loop
    abandoned: bool = False  # the loop recorded this attempt without waiting for the job
    hit_job: bool = False  # the stop came while the job was running (not after it returned)
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
        """Variables a job's subprocess gets so ``task_info()`` works inside it (``task_info.json``
        is written now: a run that starts no subprocess costs no file)."""
        run_context.write_task_info(self.log_dir, self.task, self.worker_id)
        return run_context.job_env(self.task_id, self.worker_id, self.log_dir, self.queue.path)

    # ----------------------------------------------------------- stopping
    def stop(self, kind: str, reason: str, signum: int = 0) -> None:
        """The job must stop now (the lease keeper's thread, or a signal in the main thread)."""
        with self._guard:
            if self._ended or self.stopping.is_set():
                again = kind == SIGNAL and self.stop_kind == SIGNAL
            else:
                again = None
                self.stop_kind, self.stop_reason, self.signum = kind, reason, signum
                self.hit_job = self._job_thread is not None
                self.stopping.set()
            callbacks = list(self._on_stop)
            python_job = not self._stops_itself and self._job_thread is not None
        if again is not None:
            if again:
                self.hard.set()  # asked twice: no more grace
            return
        if kind != SIGNAL:
            log.warning("task %s: %s; stopping its job", self.task_id, reason)
        for callback in callbacks:
            callback()
        if python_job:
            inside = kind == SIGNAL and threading.get_ident() == self._job_thread
            nudger = threading.Thread(
                target=self._nudge_until_stopped, args=(inside,), name="labtasker-stop", daemon=True
            )
            nudger.start()
            if inside:
                raise Interrupted(signum)  # in the signal handler: inside the job itself

    def interrupt_now(self) -> None:
        """Called in the main thread on ``NUDGE``: raise the stop inside the job if it still runs."""
        with self._guard:
            armed = self._job_thread == threading.get_ident() and self.stopping.is_set()
        if armed and not self._stops_itself:
            raise Interrupted(self.signum) if self.stop_kind == SIGNAL else JobStopped

    def _nudge_until_stopped(self, sent: bool) -> None:
        """Interrupt the job (a signal's once, so its clean-up may run; the others until it
        returns); past the grace period, or when asked twice, give it up."""
        deadline = time.monotonic() + self.grace
        while time.monotonic() < deadline and not self.hard.is_set():
            with self._guard:
                thread = self._job_thread
            if thread is None:
                return  # the job returned
            if not sent or self.stop_kind != SIGNAL:
                if not (self.interrupts is not None and thread == _main_id() and self.interrupts.nudge()):
                    _raise_in(thread, Interrupted if self.stop_kind == SIGNAL else JobStopped)
                sent = True
            self.hard.wait(NUDGE_EVERY)
        with self._guard:
            still = self._job_thread is not None
        if still and self.given_up is not None:
            self.given_up(self)

    def arm(self) -> None:
        with self._guard:
            if self.stopping.is_set() and not self._stops_itself:
                raise JobStopped  # told to stop before the job even began
            self._job_thread = threading.get_ident()

    def disarm(self) -> None:
        with self._guard:
            self._job_thread = None  # no interruption from now on
        _checkpoint()  # one sent just before is raised here, still inside the job's try


def _main_id() -> int | None:
    return threading.main_thread().ident


def _checkpoint() -> None:
    """Entering a Python function is where a pending interruption is raised."""


def _raise_in(thread_id: int, exc: type[BaseException]) -> None:
    """Raise ``exc`` in another thread when it next runs Python code (not inside a blocking call).

    (Never "cancelled" with NULL: that leaves the interpreter checking for it on
    every instruction from then on.)
    """
    try:
        setter = ctypes.pythonapi.PyThreadState_SetAsyncExc
    except AttributeError:  # pragma: no cover - not CPython: the job runs to its end
        return
    if exc is Interrupted:
        exc = KeyboardInterrupt  # an async exception is raised without arguments
    setter(ctypes.c_ulong(thread_id), ctypes.py_object(exc))
