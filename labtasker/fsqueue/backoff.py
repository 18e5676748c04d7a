"""Waiting for a file another process has in hand (a take lasts milliseconds)."""

from __future__ import annotations

import time


class Backoff:
    """Sleeps growing, jittered intervals (rivals fall out of step) until ``limit`` seconds have passed."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.deadline = time.monotonic() + limit
        self.delay = 0.002

    def sleep(self) -> bool:
        left = self.deadline - time.monotonic()
        if left <= 0:
            return False
        import random  # only when a retry waits: most commands never do

        time.sleep(min(left, self.delay * random.uniform(0.5, 1.5)))
        self.delay = min(self.delay * 2, 0.1)
        return True
