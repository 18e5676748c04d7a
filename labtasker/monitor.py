"""The monitor behind ``labtasker-server serve``: one long-lived sweeper per queue.

It is never needed for correctness (every loop sweeps too); it makes recovery
prompt: a dead worker's task is back in ``pending/`` within one ``interval`` on
the worker's host, files left in ``tmp/`` by dead processes go back where they
were, and with ``on_event`` every transition is reported as it happens. Any
number of monitors may watch one queue: each reclaim is a take, won once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from labtasker.events import EventStream, QueueEvent
from labtasker.fsqueue.lease import Terms
from labtasker.fsqueue.reaper import Reaper, Sweep
from labtasker.fsqueue.store import FsQueue

log = logging.getLogger("labtasker")


class Monitor:
    """Sweeps a queue every ``interval`` seconds and follows its events until stopped."""

    def __init__(
        self,
        queue: FsQueue,
        defaults: Terms | None = None,
        *,
        interval: float = 2.0,
        tmp_age: float = 600.0,
        janitor_every: float = 60.0,
        polling: bool | None = None,
        on_event: Callable[[QueueEvent], None] | None = None,
    ) -> None:
        self.queue = queue
        self.defaults = defaults or Terms()
        self.interval = interval
        self.tmp_age = tmp_age
        self.janitor_every = janitor_every
        self.polling = polling
        self.on_event = on_event
        self.sweeps = 0
        self.reclaimed = 0

    def run(self, stop: threading.Event) -> None:
        """Work until ``stop`` is set (a signal handler sets it)."""
        by = f"monitor {self.queue.node} (pid {os.getpid()})"
        with (
            Reaper(
                self.queue,
                self.defaults,
                every=self.interval,
                by=by,
                tmp_age=self.tmp_age,
                janitor_every=self.janitor_every,
            ) as reaper,
            EventStream(self.queue, polling=self.polling) as stream,
        ):
            how = "polling" if stream.polling else "native notifications"
            log.info("monitoring %s (%s; sweeping every %gs)", self.queue.path, how, self.interval)
            while not stop.is_set():
                if time.monotonic() >= reaper.next_due():
                    self._sweep(reaper)
                wait = min(0.5, max(0.0, reaper.next_due() - time.monotonic()))
                for event in stream.poll(wait):
                    if self.on_event is not None:
                        self.on_event(event)
        log.info("monitor stopped after %d sweeps, %d tasks reclaimed", self.sweeps, self.reclaimed)

    def _sweep(self, reaper: Reaper) -> Sweep | None:
        try:
            result = reaper.sweep()
        except OSError as exc:  # storage trouble: say so and try again next time
            log.error("sweep of %s failed: %s", self.queue.path, exc)
            reaper.last = Sweep()
            return None
        self.sweeps += 1
        self.reclaimed += len(result.reclaimed)
        for name in result.locks_removed:
            log.debug("removed the liveness lock of gone worker %s", name)
        return result
