"""Renews a running task's lease from a background thread, and says when to stop.

The lease is the running file's mtime. A loop keeps one keeper thread for all
its runs (``KeeperThread``: starting a thread per task cost a loop of short
tasks a tenth of its time); each renewal runs in a short-lived thread of its
own, so a filesystem call that hangs cannot keep the keeper from
noticing its deadline: if no renewal succeeds for ``give_up_after`` seconds of
our own monotonic clock, the keeper asks the job to stop, before anyone else
may reclaim the task. A renewal that finds the file gone means the task was
cancelled or reclaimed: the job must stop too. Past ``eta`` seconds the job is
asked to stop as well, but the lease is still renewed until the loop has
recorded the failure.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from labtasker.fsqueue import tasks
from labtasker.fsqueue.store import FsQueue

log = logging.getLogger("labtasker")

LOST, FENCED, ETA = "lost", "fenced", "eta"  # why a keeper stops a job
OnStop = Callable[[str, str], None]  # (kind, reason)


class KeeperThread:
    """One thread that keeps the leases of a loop's runs, one run after another.

    A loop runs one task at a time. The keeper of a run that ended is stopped
    but not woken: it leaves the thread when its own timer fires (by then the
    next run's keeper is due for nothing earlier), or at once when the next
    keeper has an earlier deadline. So a loop of short tasks costs the keeper
    thread no wake-up, and no thread switch, per task.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next: LeaseKeeper | None = None  # the run to keep once the thread is free
        self._running: LeaseKeeper | None = None  # the keeper on the thread now
        self._closed = False
        self._thread: threading.Thread | None = None

    def __enter__(self) -> KeeperThread:
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._closed = True
            running = self._running
            self._cond.notify()
        if running is not None:
            running._wake.set()

    def submit(self, keeper: LeaseKeeper) -> None:
        """Keep ``keeper``'s run next; the keeper on the thread now must be stopped already."""
        with self._cond:
            self._next = keeper
            running = self._running
            self._cond.notify()
        if running is not None and keeper.first_due() < running.sleeps_until:
            running._wake.set()  # it would sleep past the new run's first deadline
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._serve, name="labtasker-lease", daemon=True)
            self._thread.start()

    def _serve(self) -> None:
        while True:
            with self._cond:
                while self._next is None and not self._closed:
                    self._cond.wait()
                keeper = self._next
                if self._closed or keeper is None:
                    return
                self._next, self._running = None, keeper
            try:
                keeper._run()
            except Exception:  # a keeper's bug must not end the keeping of the next runs
                log.exception("the lease keeper failed")
            with self._cond:
                self._running = None


class LeaseKeeper:
    """Heartbeats ``running/<name>`` every ``interval`` seconds until stopped.

    With ``thread``, it runs on that shared thread and ``__exit__`` does not
    wait for it: once ``stop`` returned, it tells nobody to stop any more.
    """

    def __init__(
        self,
        queue: FsQueue,
        running_name: str,
        interval: float,
        give_up_after: float,
        *,
        eta: float | None = None,
        on_stop: OnStop | None = None,
        touch: Callable[[], bool] | None = None,
        started: float | None = None,
        thread: KeeperThread | None = None,
    ) -> None:
        self.queue = queue
        self.running_name = running_name
        self.interval = interval
        self.give_up_after = give_up_after
        self.eta = eta
        self.on_stop = on_stop
        self.touch = touch or (lambda: tasks.heartbeat(queue, running_name))
        self.started = time.monotonic() if started is None else started
        self.lost = threading.Event()  # the lease is gone (or could not be renewed)
        self.kind = ""
        self.reason = ""
        self.renewals = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.sleeps_until = float("inf")  # when the keeper's thread next wakes by itself
        self._telling = threading.RLock()  # held while deciding to tell, so ``stop`` is final
        self._shared = thread
        self._thread = (
            None if thread else threading.Thread(target=self._run, name="labtasker-lease", daemon=True)
        )

    def __enter__(self) -> LeaseKeeper:
        if self._shared is not None:
            self._shared.submit(self)
        else:
            assert self._thread is not None
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def stop(self) -> None:
        """Stop renewing (the run is over); safe from any thread. No stop is told after it returns."""
        with self._telling:
            self._stop.set()
        if self._shared is None:
            self._wake.set()  # on a shared thread it is left to sleep (``KeeperThread``)

    def first_due(self) -> float:
        """When this keeper first has something to do (monotonic seconds)."""
        return self.started + min(self.interval, self.give_up_after, self.eta or float("inf"))

    def _run(self) -> None:
        last_ok = self.started
        next_beat = self.started + self.interval
        eta_at = None if self.eta is None else self.started + self.eta
        beat: _Beat | None = None
        while not self._stop.is_set():
            now = time.monotonic()
            if beat is not None and beat.done.is_set():
                outcome, beat = beat, None
                if outcome.error is None and not outcome.alive:
                    self._end(LOST, "the task was cancelled, reclaimed or deleted by someone else")
                    return
                if outcome.error is None:
                    last_ok, self.renewals = outcome.started, self.renewals + 1
                else:
                    log.warning("could not renew the lease of %s: %s", self.running_name, outcome.error)
                next_beat = outcome.started + self.interval
            if now - last_ok >= self.give_up_after:
                self._end(FENCED, f"the lease could not be renewed for {self.give_up_after:g}s")
                return
            if eta_at is not None and now >= eta_at:
                eta_at = None
                self._tell(ETA, f"the run exceeded eta_max ({self.eta:g}s)")
            if beat is None and now >= next_beat:
                beat = _Beat(self.touch, now, self._wake)
                beat.start()
            wake_at = min(
                t
                for t in (last_ok + self.give_up_after, eta_at, None if beat else next_beat)
                if t is not None
            )
            with self._telling:
                if self._stop.is_set():
                    return
                self.sleeps_until = wake_at  # final once ``stop`` returned (``KeeperThread.submit``)
            self._wake.wait(max(0.0, wake_at - time.monotonic()))
            self._wake.clear()

    def _end(self, kind: str, reason: str) -> None:
        with self._telling:
            if not self._stop.is_set():
                self.lost.set()
                self._tell(kind, reason)

    def _tell(self, kind: str, reason: str) -> None:
        with self._telling:
            if self._stop.is_set():
                return  # the run ended on its own meanwhile
            self.kind, self.reason = kind, reason
            if self.on_stop is not None:
                self.on_stop(kind, reason)


class _Beat(threading.Thread):
    """One renewal, in its own thread so that a hung filesystem cannot block the keeper."""

    def __init__(self, touch: Callable[[], bool], started: float, wake: threading.Event) -> None:
        super().__init__(name="labtasker-renew", daemon=True)
        self.touch, self.started, self.wake = touch, started, wake
        self.done = threading.Event()
        self.alive = False
        self.error: OSError | None = None

    def run(self) -> None:
        try:
            self.alive = self.touch()
        except OSError as exc:
            self.error = exc
        finally:
            self.done.set()
            self.wake.set()
