"""Claiming pending tasks in order, cheaply, with many rivals.

A claimer keeps a sorted listing of ``pending/`` and walks it; it lists the
directory again only when its listing runs dry or grows old, so a claim costs
the same with 10^3 or 10^5 pending tasks. The head of the listing is tried
first (one worker sees strict priority order); after a lost race it jumps a
random distance into the next few names, so rivals spread out.

A task that failed waits until its ``retry_at`` (a short, growing backoff) while
the other pending tasks go first; ``next_retry`` says when the earliest such
task of this claimer comes due, so a loop waits for it instead of ending.
"""

from __future__ import annotations

import bisect
import copy
import random
import time
from collections.abc import Callable
from datetime import datetime

from labtasker.fsqueue import clock, layout, transitions
from labtasker.fsqueue.store import Doc, FsQueue, Located

Accept = Callable[[Doc], bool]


class Claimer:
    """Claims tasks for one worker; not shared between threads."""

    def __init__(
        self,
        queue: FsQueue,
        worker_id: str,
        accept: Accept | None = None,
        *,
        relist_after: float = 2.0,
        window: int = 8,
    ) -> None:
        self.queue = queue
        self.worker_id = worker_id
        self.accept = accept
        self.relist_after = relist_after
        self.window = window
        self._names: list[str] = []
        self._listed_at = float("-inf")
        self._rejected: set[str] = set()  # a pending file's content changes only with its name
        self._accepted: set[str] = set()
        self._waiting: dict[str, datetime] = {}  # accepted names whose retry_at has not come yet
        self.fields: Doc = {}  # written into each claimed task (the loop's lease terms)
        self._counted = float("nan")  # when the listing was made whose names are all runnable

    def claim(self, now: datetime | None = None) -> Located | None:
        """Take the first acceptable pending task, or None if there is none."""
        fresh = time.monotonic() - self._listed_at > self.relist_after
        for _ in range(2):
            if fresh or not self._names:
                self._relist()
                fresh = True
            got = self._claim_listed(now)
            if got is not None or fresh:
                return got
            fresh = True
        return None

    def forget(self) -> None:
        """Drop the listing so the next claim sees the directory as it is now."""
        self._listed_at = float("-inf")

    def _relist(self) -> None:
        names = self.queue.names("pending")
        self._rejected.intersection_update(names)
        self._accepted.intersection_update(names)
        self._waiting = {n: t for n, t in self._waiting.items() if n in self._accepted}
        self._names = [n for n in claim_order(names, self.queue.node) if n not in self._rejected]
        self._listed_at = time.monotonic()

    def next_retry(self) -> datetime | None:
        """When the earliest task this claimer would take, now waiting for its retry, comes due."""
        return min(self._waiting.values(), default=None)

    def runnable(self, *, relist: bool = True) -> tuple[int, int]:
        """(pending tasks this claimer may take, pending tasks it never will), from a fresh listing.

        With ``relist=False``, from the listing the claims walk while it is younger than
        ``relist_after`` (a progress line after each task need not list the directory again).
        """
        if relist or time.monotonic() - self._listed_at > self.relist_after:
            self._relist()
        if self.accept is None:
            return len(self._names), len(self._rejected)
        if self._counted != self._listed_at:  # once per listing: 10^5 names in a big queue
            self._names = [n for n in self._names if self._acceptable(n) or n in self._waiting]
            self._counted = self._listed_at
        return len(self._names), len(self._rejected)  # claims since only took names out of it

    def _claim_listed(self, now: datetime | None) -> Located | None:
        names = self._names
        i = 0
        while i < len(names):
            name = names[i]
            if not self._acceptable(name, now):
                del names[i]
                continue
            try:
                got = self.queue.transact("pending", name, self._change(now))
            except FileNotFoundError:
                del names[i]
                i += random.randrange(min(self.window, max(1, len(names) - i)))
                continue
            except _Rejected:
                self._rejected.add(name)
                self._accepted.discard(name)
                del names[i]
                continue
            except _NotYet as early:
                self._waiting[name] = early.due
                del names[i]
                continue
            del names[i]
            self._waiting.pop(name, None)
            return got
        return None

    def _acceptable(self, name: str, now: datetime | None = None) -> bool:
        """Whether this claimer would take the task now (a waiting one is noted in ``_waiting``)."""
        if name in self._rejected:
            return False
        if name not in self._accepted:
            doc = self.queue.read("pending", name)
            if doc is None:
                return False
            if self.accept is not None and not self.accept(doc):
                self._rejected.add(name)
                return False
            self._accepted.add(name)
            due = _retry_at(doc)
            if due is not None:
                self._waiting[name] = due
        due = self._waiting.get(name)
        if due is not None and due > (now or clock.now()):
            return False
        self._waiting.pop(name, None)
        return True

    def _change(self, now: datetime | None) -> Callable[[Doc], tuple[str, Doc]]:
        def change(doc: Doc) -> tuple[str, Doc]:
            if self.accept is not None and not self.accept(doc):
                raise _Rejected
            if doc.get("reserved_for") not in (None, self.queue.node):
                raise _Rejected
            due = _retry_at(doc)
            if due is not None and due > (now or clock.now()):
                raise _NotYet(due)
            claimed = transitions.claim(doc, self.worker_id, now or clock.now())
            claimed.update(copy.deepcopy(self.fields))
            return "running", claimed

        return change


def claim_order(names: list[str], node: str) -> list[str]:
    """Sorted pending names as one node claims them: those reserved for it first, then the
    unreserved; tasks reserved for other nodes are left alone (``labtasker task reserve``)."""
    lo = bisect.bisect_left(names, layout.RESERVED)  # reserved names are one block of the sorted list
    hi = bisect.bisect_left(names, layout.RESERVED[:-1] + chr(ord(layout.RESERVED[-1]) + 1), lo)
    mine = [n for n in names[lo:hi] if layout.reserved_for(n) == node]
    return mine + names[:lo] + names[hi:]


class _Rejected(Exception):
    """The held document no longer matches; put it back untouched."""


class _NotYet(Exception):
    """The held task waits for its retry; put it back untouched."""

    def __init__(self, due: datetime) -> None:
        super().__init__(due)
        self.due = due


def _retry_at(doc: Doc) -> datetime | None:
    value = doc.get("retry_at")
    return value if isinstance(value, datetime) else None
