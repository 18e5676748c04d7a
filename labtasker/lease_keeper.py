"""Renews a running task's lease from a background thread.

The lease is the running file's mtime. If a renewal finds the file gone, the
task was cancelled or reclaimed: ``lost`` is set and the job must stop. If the
lease cannot be renewed for ``give_up_after`` seconds of our own monotonic
clock (a hung filesystem), the keeper also gives up, before anyone else may
reclaim the task.
"""

from __future__ import annotations

import threading
import time

from labtasker.fsqueue import tasks
from labtasker.fsqueue.queue import FsQueue


class LeaseKeeper:
    """Heartbeats ``running/<name>`` every ``interval`` seconds until stopped."""

    def __init__(self, queue: FsQueue, running_name: str, interval: float, give_up_after: float) -> None:
        self.queue = queue
        self.running_name = running_name
        self.interval = interval
        self.give_up_after = give_up_after
        self.lost = threading.Event()
        self.reason = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="labtasker-lease", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        last_ok = time.monotonic()
        while not self._stop.wait(self.interval):
            try:
                alive = tasks.heartbeat(self.queue, self.running_name)
            except OSError as exc:  # storage trouble: retry until our own deadline
                if time.monotonic() - last_ok > self.give_up_after:
                    self._lose(f"could not renew the lease for {self.give_up_after:.0f}s: {exc}")
                    return
                continue
            if not alive:
                self._lose("the task was cancelled, reclaimed or deleted by someone else")
                return
            last_ok = time.monotonic()

    def _lose(self, reason: str) -> None:
        self.reason = reason
        self.lost.set()
