"""The worker loop shared by ``@labtasker.loop()`` and ``labtasker loop``.

Claim a matching task, run the job with its lease renewed, record the outcome,
repeat until no matching pending task is left (or, with ``wait``, until
stopped). The job is a callable; the CLI passes one that runs a command, the
decorator one that calls a function.

While it runs, the loop holds a liveness lock and, whenever it looks for work,
sweeps stale leases (at most every few seconds), so a task whose worker died
comes back without any monitor. A failed task waits for its retry (a short,
growing backoff) while other tasks go first; the loop waits for it rather than
end. How a job is stopped (lease lost, eta_max, SIGINT/SIGTERM/SIGHUP) is in
``attempt``; a signal ends the loop with the task back in pending, no retry
counted, and the attempt recorded in ``attempts/``.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from labtasker.api_models import Task
from labtasker.errors import LeaseLost
from labtasker.fsqueue import claim, clock, error_record, layout, lease, locking, transitions, workers
from labtasker.fsqueue.reaper import Reaper
from labtasker.fsqueue.store import FsQueue, Located
from labtasker.worker import loop_report, loop_worker, outcomes, run_logs
from labtasker.worker.attempt import DEFAULT_GRACE, SIGNAL, Interrupted, JobStopped, Run
from labtasker.worker.finish_behind import FinishBehind
from labtasker.worker.interrupts import Interrupts
from labtasker.worker.lease_keeper import ETA, KeeperThread, LeaseKeeper
from labtasker.worker.loop_report import Reporter

log = logging.getLogger("labtasker")

__all__ = [
    "DEFAULT_GRACE",
    "Interrupted",
    "JobStopped",
    "LoopOptions",
    "Run",
    "StopLoop",
    "Tally",
    "run_loop",
]

OUTCOMES = ("done", "failed", "cancelled", "lost", "interrupted")
# _run_one's answer for a job that returned: the loop finishes it, in line or while it claims the
# next task (worker/finish_behind.py)
FINISH_BEHIND = "finish behind"
# A look for other workers on this terminal reads every worker file: it may take at most 1% of the
# loop's time (before each task of real length, every few dozen no-op tasks), and waits at most 2 s.
PREFIX_SHARE, PREFIX_WAIT_MAX = 100, 2.0


@dataclass
class Tally:
    """What a loop did: one (task id, outcome) per attempt; counts are of tasks, by their last outcome."""

    history: list[tuple[str, str]] = field(default_factory=list)
    crashed: str = ""  # why the worker stopped early, if it did
    suspended: bool = False  # ...because a user suspended it (not a failure)
    stopped_by: str = ""  # the signal that stopped the loop (SIGINT, SIGTERM, SIGHUP)
    exit_code: int = 0  # 128 + that signal's number
    interrupted_task: str | None = None  # the task put back in pending when the loop was stopped

    # Counts kept up to date from the attempts appended since the last look, so
    # a progress line per task costs the same after 10 tasks as after 10^5.
    _seen: int = field(default=0, repr=False)
    _last: dict[str, str] = field(default_factory=dict, repr=False)  # task -> its last outcome
    _tries: dict[str, int] = field(default_factory=dict, repr=False)  # task -> its attempts, if > 1
    _tasks: dict[str, int] = field(default_factory=dict, repr=False)  # outcome -> tasks ending so
    _by_last: dict[str, int] = field(default_factory=dict, repr=False)  # outcome -> their attempts

    def _catch_up(self) -> None:
        for tid, outcome in self.history[self._seen :]:
            before = self._last.get(tid)
            tries = 0 if before is None else self._tries.get(tid, 1)
            if before is not None:
                self._tasks[before] -= 1
                self._by_last[before] -= tries
                self._tries[tid] = tries + 1  # only tasks tried again: a loop of 10^5 tasks keeps less
            self._last[tid] = outcome
            self._tasks[outcome] = self._tasks.get(outcome, 0) + 1
            self._by_last[outcome] = self._by_last.get(outcome, 0) + tries + 1
        self._seen = len(self.history)

    def tasks_ending(self, outcome: str) -> int:
        """Tasks whose last attempt ended so (later attempts of a task override earlier ones)."""
        self._catch_up()
        return self._tasks.get(outcome, 0)

    def attempts_ending(self, outcome: str) -> int:
        """All attempts of the tasks whose last attempt ended so."""
        self._catch_up()
        return self._by_last.get(outcome, 0)

    @property
    def done(self) -> int:
        return self.tasks_ending("done")

    @property
    def failed(self) -> int:
        return self.tasks_ending("failed")

    @property
    def cancelled(self) -> int:
        return self.tasks_ending("cancelled")

    @property
    def lost(self) -> int:
        return self.tasks_ending("lost")

    @property
    def interrupted(self) -> int:
        return self.tasks_ending("interrupted")

    @property
    def attempts(self) -> int:
        return len(self.history)

    @property
    def total(self) -> int:
        """Attempts made (what ``max_tasks`` counts)."""
        return len(self.history)


Job = Callable[[Run], Any]


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
    grace: float = DEFAULT_GRACE  # seconds a stopped job gets before the harder stop
    count_interrupts: bool = False  # a signal's stop counts as a failed attempt (a retry charged)
    retry_backoff: float = transitions.RETRY_BACKOFF  # seconds before a failed task's first retry


def run_loop(queue: FsQueue, job: Job, opts: LoopOptions, report: Reporter | None = None) -> Tally:
    """Run ``job`` on matching tasks until none is left (or forever with ``wait``); return the tally."""
    terms = lease.make_terms(opts.heartbeat_interval, opts.heartbeat_timeout, opts.eta_max)
    worker_id = loop_worker.register(queue, opts.worker_id, opts.create_worker_kwargs)
    report = report or Reporter(quiet=True)
    runs_folder = _runs_folder(opts.logs_dir)  # where the loop started, whatever a job's chdir
    tally = Tally()
    every = opts.sweep_every or min(5.0, terms.interval)
    current: list[Run] = []
    behind = FinishBehind()

    def on_signal(signum: int, count: int) -> None:
        idle.wake()
        if current:
            current[0].stop(SIGNAL, f"stopped by {signal.Signals(signum).name}", signum)

    def nudged() -> None:
        if current:
            current[0].interrupt_now()

    with (
        Interrupts() as ints,
        locking.WorkerLock(queue, worker_id) as lock,
        Reaper(queue, terms, every=every) as sweeper,
        _Idle(queue, opts.polling) as idle,
        KeeperThread() as keeping,
    ):
        ints.listeners.append(on_signal)
        ints.nudged = nudged
        claimer = claim.Claimer(queue, worker_id, opts.accept)
        host = locking.host_key()
        prefix_due = 0.0

        def settle_finish() -> None:  # the last task's finish: counted and reported before anything else
            finished = behind.settle()
            if finished is not None:
                last, outcome = finished
                _ended(last.run, outcome, last.took, last.left, tally, report)

        try:
            while (
                opts.max_tasks is None or tally.total + behind.busy < opts.max_tasks
            ) and not ints.requested.is_set():
                held = loop_worker.held_back(queue, worker_id)
                if held:  # suspended since the loop began: it takes no more tasks
                    tally.crashed, tally.suspended = held, True
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
                    ints,
                    settle_finish,
                )
                try:
                    settle_finish()
                except BaseException:
                    if found is not None:
                        _hand_back(queue, found[0])
                    raise
                if found is None:
                    break
                got, claimed_at = found
                run = Run(
                    queue,
                    got.name,
                    Task.from_doc(got.doc),
                    worker_id,
                    _log_dir(runs_folder, got.doc["task_id"]),
                    grace=opts.grace,
                    interrupts=ints,
                )
                run.given_up = lambda r: _give_up(r, opts, report, tally)
                run.previous_error = got.doc.get("last_error")
                if ints.requested.is_set():  # stopped while claiming: hand it straight back
                    run.signum = ints.signum
                    outcomes.release(
                        run, "before its job began", count=opts.count_interrupts, backoff=opts.retry_backoff
                    )
                    break
                # once tagged, always: the lines stay interleaved
                if not report.quiet and not report.prefix and time.monotonic() >= prefix_due:
                    looked = time.monotonic()
                    report.prefix = loop_worker.prefix(queue, worker_id)
                    took_s = time.monotonic() - looked
                    prefix_due = looked + took_s + min(PREFIX_WAIT_MAX, PREFIX_SHARE * took_s)
                report.started(run)
                began = clock.now()  # the queue's clock: a fixed clock gives the same logs
                current[:] = [run]
                try:
                    outcome = _run_one(
                        run, job, lease.terms_of(got.doc, terms), claimed_at, opts, report, keeping
                    )
                finally:
                    current.clear()
                took = max(0.0, (clock.now() - began).total_seconds())
                # a done task left the listing when claimed; any other outcome may put one back
                left = (
                    (0, 0)
                    if report.quiet
                    else claimer.runnable(relist=outcome not in ("done", FINISH_BEHIND))
                )
                if outcome == FINISH_BEHIND:
                    finished = behind.start(
                        partial(_end, run, "success", opts.retry_backoff), run, took, left
                    )
                    if finished is None:  # on its way: settled before the next job starts
                        continue
                    outcome = finished
                _ended(run, outcome, took, left, tally, report)
                if outcome == "interrupted":
                    tally.interrupted_task = run.task_id
                    tally.stopped_by = tally.stopped_by or signal.Signals(run.signum or signal.SIGINT).name
                    break
                if outcome == "failed" and loop_worker.gave_up(queue, worker_id):
                    if claimer.runnable()[0] == 0 and claimer.next_retry() is None:
                        break  # nothing left to run here anyway: a drained queue, not a crash
                    tally.crashed = loop_report.crash_text(
                        worker_id, tally.history, loop_worker.failures_in_a_row(queue, worker_id)
                    )
                    break
            settle_finish()
        finally:
            behind.close()  # a finish still under way when the loop is left by an error
            loop_worker.settle(queue, worker_id, crashed=bool(tally.crashed))
    if ints.signum:
        tally.stopped_by = ints.name
    if tally.stopped_by:
        tally.exit_code = 128 + int(signal.Signals[tally.stopped_by])
    return tally


def _next_task(
    claimer: claim.Claimer,
    sweeper: Reaper,
    idle: _Idle,
    wait: bool,
    fields: Callable[[], dict[str, Any]],
    ints: Interrupts,
    settle_finish: Callable[[], None],
) -> tuple[Located, float] | None:
    """The next task to run and when it was claimed (monotonic); None when there is none.

    Stale leases are swept on the way, at most once per ``sweeper.every``. With
    nothing pending but a lease that looks stale, the loop watches it for up to
    one timeout before it gives up (a renewing owner keeps it forever); a task
    waiting for its retry is waited for. The last task's finish is settled
    before any wait.
    """
    patience = sweeper.defaults.timeout + sweeper.cache + 2 * sweeper.every
    idle_since = None
    while not ints.requested.is_set():
        sweeper.maybe_sweep()
        claimer.fields = fields()
        claimed_at = time.monotonic()  # no later than the lease's first mtime
        got = claimer.claim()
        if got is not None:
            return got, claimed_at
        settle_finish()
        now = time.monotonic()
        idle_since = idle_since or now
        pause = max(0.0, sweeper.next_due() - now)
        due = claimer.next_retry()
        if due is not None:  # a failed task of ours waits for its retry: wait for it
            until = max(0.0, (due - clock.now()).total_seconds())
            ints.requested.wait(max(0.02, min(until, pause) if pause else until))
            claimer.forget()
        elif wait:
            idle.wait(max(0.05, pause))
        elif sweeper.last.suspects and now - idle_since < patience:  # not confirmed yet: look again
            ints.requested.wait(pause)
        else:
            return None
    return None


def _run_one(
    run: Run,
    job: Job,
    terms: lease.Terms,
    claimed_at: float,
    opts: LoopOptions,
    report: Reporter,
    keeping: KeeperThread,
) -> str:
    keeper = LeaseKeeper(
        run.queue,
        run.running_name,
        terms.interval,
        terms.give_up_after,
        eta=terms.eta,
        on_stop=run.stop,
        started=claimed_at,
        thread=keeping,
    )
    run.keeper, run.eta_max = keeper, terms.eta
    with keeper:
        how, exc = _call(run, job)
    if run.abandoned:
        return "failed"  # given up after the grace period; recorded then
    if how == "interrupted" or (run.stop_kind == SIGNAL and run.hit_job):  # even if it then returned
        run.signum = run.signum or signal.SIGINT
        if isinstance(exc, StopLoop):
            outcomes.release(run, "by its job", count=False, backoff=opts.retry_backoff)
            raise exc
        return outcomes.release(
            run, "while its job ran", count=opts.count_interrupts, backoff=opts.retry_backoff
        )
    if how in ("lost", "stopped") and outcomes.attempt_recorded(run):
        outcomes.tell_lost(run)  # the job's own report found the task gone and kept its result
        return "lost"
    if run.ended:
        ended = outcomes.ended_outcome(run, how)
        if ended == "failed":  # finish("failed") counts against the worker like a raised exception
            workers.record_failure(run.queue, run.worker_id)
        elif ended == "done":  # and finish("success") clears the count like a return
            workers.record_success(run.queue, run.worker_id)
        return ended
    if how == "stopped":
        error = outcomes.stop_record(run)
    elif how == "lost":
        error = error_record.make("LeaseLost", str(exc))
    elif how == "error":
        assert exc is not None
        error = getattr(exc, "record", None) or error_record.from_exception(exc)
        if "record" not in vars(exc):  # a Python job's traceback: shown, and kept with its log
            _append_log(run, error.get("traceback", ""))
            report.traceback(error.get("traceback", ""))
    else:
        return FINISH_BEHIND  # _end(run, "success", ...), in line or behind the next claim
    return _end(run, "failed", opts.retry_backoff, error)


def _end(run: Run, status: str, backoff: float, error: dict[str, Any] | None = None) -> str:
    """``outcomes.end``, saying where the task went if it was taken from this run (its result is
    kept in attempts/)."""
    outcome = outcomes.end(run, status, backoff, error=error)
    if outcome == "lost":
        outcomes.tell_lost(run)
    return outcome


def _ended(
    run: Run, outcome: str, took: float, left: tuple[int, int], tally: Tally, report: Reporter
) -> None:
    """An attempt's end: counted, closed in its log, reported."""
    tally.history.append((run.task_id, outcome))
    _log_footer(run, outcome, took)
    report.ended(outcome, run, tally, took, left)


def _hand_back(queue: FsQueue, got: Located) -> None:
    """A task claimed while the last one's finish failed goes back to pending as it was (else its lease
    running out would bring it back)."""
    try:
        outcomes.put_back(queue, got.name)
    except OSError as exc:
        log.warning("task %s stays in running until its lease runs out: %s", got.name, exc)


def _call(run: Run, job: Job) -> tuple[str, BaseException | None]:
    """Run the job: ("ok" | "error" | "stopped" | "lost" | "interrupted", the job's exception)."""
    try:
        try:
            run.arm()
            job(run)
        finally:
            run.disarm()
    except JobStopped:
        return "stopped", None
    except StopLoop as exc:  # the job ends the loop: the task goes back, StopLoop leaves run_loop
        return "interrupted", exc
    except KeyboardInterrupt:  # Interrupted is a KeyboardInterrupt
        return "interrupted", None
    except Exception as exc:  # the job's failure is data, recorded on the task
        if run.stopping.is_set() and run.stop_kind != SIGNAL:
            return "stopped", exc  # most likely our stop made it fail
        if run.stopping.is_set():
            return "interrupted", exc
        return ("lost" if isinstance(exc, LeaseLost) else "error"), exc
    if run.stopping.is_set() and run.stop_kind == ETA:
        return "stopped", None
    return "ok", None


def _give_up(run: Run, opts: LoopOptions, report: Reporter, tally: Tally) -> None:
    """The job did not stop within the grace period (or was asked twice): stop the hard way.

    Runs on the stopper's thread while the job still holds the main thread. For a
    signal, the task goes back and the process ends; otherwise the attempt is
    recorded as failed and the lease released.
    """
    if run.keeper is not None:
        run.keeper.stop()
    if run.stop_kind == SIGNAL:
        outcomes.release(
            run, "its job did not stop in time", count=opts.count_interrupts, backoff=opts.retry_backoff
        )
        tally.history.append((run.task_id, "interrupted"))
        name = signal.Signals(run.signum).name
        report.stopped(tally, name, run.task_id)
        loop_worker.settle(run.queue, run.worker_id, crashed=False)
        logging.shutdown()
        os._exit(128 + run.signum)
    run.abandoned = True
    log.warning(
        "task %s: its job did not stop within %gs; the attempt is recorded as failed and the job left to end",
        run.task_id,
        run.grace,
    )
    outcomes.end(run, "failed", opts.retry_backoff, error=outcomes.stop_record(run))


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

    def wake(self) -> None:
        self._woken.set()


def _append_log(run: Run, text: str) -> None:
    if text:
        with run_logs.open_log(run.log_dir) as log_file:
            log_file.write(text if text.endswith("\n") else text + "\n")


def _log_footer(run: Run, outcome: str, took: float) -> None:
    """The run log's last line: how the job ended, the outcome, how long it took, on which host.

    A run that is done without a file in its folder (nothing printed, the folder
    never asked for) gets no log at all: its outcome is in the task file, and two
    fewer files a task is what lets a loop of short jobs keep up with the disk.
    """
    if outcome == "done" and not os.path.isdir(run.log_dir):
        return  # a silent run: no folder to end
    if run.exit_status is not None:
        status = f"exit status {run.exit_status}"
    elif outcome == "interrupted":
        status = f"stopped by {signal.Signals(run.signum or signal.SIGINT).name}"
    else:
        status = "exit status 0" if outcome == "done" else "exit status 1"
    _append_log(run, f"# labtasker: {status}, {outcome}, {took:.1f}s on {locking.host_key().split('/')[0]}")


def _log_dir(runs: Path, task_id: str) -> Path:
    """A run's log folder in ``runs`` (made at the run's first write)."""
    return runs / f"{layout.stamp(clock.now())}{layout.SEP}{task_id}"


def _runs_folder(logs_dir: Path | None) -> Path:
    """Where this loop's runs keep their logs: ``<logs>/run``, ``logs`` being the project's by default."""
    return (logs_dir or (Path.cwd() / ".labtasker" / "logs")) / "run"
