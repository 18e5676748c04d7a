"""The sweep: find stale leases in ``running/`` and put their tasks back.

Any process may sweep (a loop looking for work, the monitor, several at once):
a reclaim is a take of the running file, so exactly one sweeper wins it. The
winner re-checks the file's mtime after the take and gives the task back if
its owner renewed in between. A reclaimed run counts as a failed attempt (one
more retry, or ``failed/`` once out of retries) and as a failure of its worker.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from labtasker.errors import WorkerNotFound
from labtasker.fsqueue import clock, held, layout, lease, locking, replica_mark, workers
from labtasker.fsqueue.lease import Signature, Terms, Verdict
from labtasker.fsqueue.store import Doc, FsQueue
from labtasker.log import log


@dataclass(frozen=True)
class Reclaim:
    """One stale lease taken back."""

    task_id: str
    worker_id: str
    verdict: Verdict
    status: str  # where the task went: pending or failed
    retries: int
    max_retries: int


@dataclass
class Sweep:
    """What one sweep saw and did."""

    running: int = 0
    suspects: int = 0
    reclaimed: list[Reclaim] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)  # tmp/ entries put back or removed
    locks_removed: list[str] = field(default_factory=list)


class _Renewed(Exception):
    """The owner renewed its lease between our look and our take."""


class Reaper:
    """Sweeps one queue; remembers what it saw so it can tell how long a lease stood still."""

    def __init__(
        self,
        queue: FsQueue,
        defaults: Terms | None = None,
        *,
        every: float = 5.0,
        by: str | None = None,
        host: str | None = None,
        tmp_age: float = 600.0,
        janitor_every: float = 60.0,
    ) -> None:
        self.queue = queue
        self.defaults = defaults or Terms()
        self.every = every
        self.by = by or f"{queue.node} (pid {os.getpid()})"
        self.host = host or locking.host_key()
        self.cache = locking.attribute_cache_seconds(queue.path)  # others' renewals may show this late
        self.tmp_age = tmp_age
        self.janitor_every = janitor_every
        self.skew = 0.0  # filesystem clock minus our wall clock, as last measured
        self.last = Sweep()
        self._seen: dict[str, lease.Sighting] = {}
        self._docs: dict[str, tuple[tuple[int, int], Doc]] = {}
        self._swept_at = float("-inf")
        self._jitter = 1.0
        self._janitor_at = float("-inf")
        self._probe = queue.tmp / held.temp_name("clock")  # removed by the next sweep if we die
        self._replica = False

    def __enter__(self) -> Reaper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove this sweeper's clock probe."""
        self._probe.unlink(missing_ok=True)

    # ---------------------------------------------------------------- timing
    def next_due(self) -> float:
        """When the next sweep is due, on the monotonic clock (jittered: many loops, not in step)."""
        return self._swept_at + self.every * self._jitter

    def maybe_sweep(self) -> Sweep | None:
        """Sweep if the last one is ``every`` seconds old; None otherwise."""
        return self.sweep() if time.monotonic() >= self.next_due() else None

    def fs_now(self) -> float:
        """Now on the filesystem's clock: touch our probe and read its mtime back."""
        try:
            os.utime(self._probe)
        except FileNotFoundError:
            os.close(os.open(self._probe, os.O_WRONLY | os.O_CREAT, 0o644))
            os.utime(self._probe)
        return os.stat(self._probe).st_mtime

    # ----------------------------------------------------------------- sweep
    def sweep(self) -> Sweep:
        """Look at every running file once; reclaim the stale ones."""
        self._swept_at = time.monotonic()  # even if this sweep fails: retry in ``every``, not at once
        self._jitter = random.uniform(0.9, 1.1)
        fs_now = self.fs_now()
        wall = clock.now()
        self.skew = fs_now - wall.timestamp()
        mono = time.monotonic()
        result = Sweep()
        result.recovered = self.queue.settle_held()  # dead holders on this host: at once
        for name in result.recovered:
            log.info("recovered tmp/%s, left by a process that died holding it", name)
        names = self.queue.names("running")
        self._forget_gone(set(names))
        locks_in_use: set[str] = set()
        self._replica = replica_mark.is_replica(self.queue)
        for name in names:
            try:
                self._sweep_one(name, result, locks_in_use, fs_now, wall, mono)
            except OSError as exc:  # one bad file never aborts the sweep
                log.error("could not check running/%s: %s", name, exc)
        if mono - self._janitor_at >= self.janitor_every:
            self._janitor_at = mono
            self._janitor(result, fs_now, locks_in_use)
        self.last = result
        return result

    def _sweep_one(
        self, name: str, result: Sweep, locks_in_use: set[str], fs_now: float, wall: datetime, mono: float
    ) -> None:
        seen = self._look(name, mono)
        if seen is None:
            return
        st, doc = seen
        result.running += 1
        info = lease.info_of(doc)
        if isinstance(info.get("lock"), str):
            locks_in_use.add(info["lock"])
        if self._replica and (info.get("node") or doc.get("node")) != self.queue.node:
            return  # another replica's run: only its own node can tell if it is alive
        verdict = self._judge(name, st, doc, info, fs_now, mono)
        if verdict.stale:
            done = self._reclaim(name, doc, st, verdict, wall)
            if done is not None:
                result.reclaimed.append(done)
        elif verdict.suspect:
            result.suspects += 1

    def _look(self, name: str, mono: float) -> tuple[os.stat_result, Doc] | None:
        try:
            st = os.stat(self.queue.path / "running" / name)
        except FileNotFoundError:
            return None
        self._seen[name] = lease.sight(self._seen.get(name), _sig(st), mono)
        hit = self._docs.get(name)
        if hit is not None and hit[0] == (st.st_ino, st.st_size):  # heartbeats change only the mtime
            return st, hit[1]
        doc = self.queue.read("running", name)
        if doc is None:
            return None
        self._docs[name] = ((st.st_ino, st.st_size), doc)
        return st, doc

    def _judge(
        self, name: str, st: os.stat_result, doc: Doc, info: dict[str, Any], fs_now: float, mono: float
    ) -> Verdict:
        same_host = info.get("host") == self.host
        return lease.judge(
            mtime=st.st_mtime,
            fs_now=fs_now,
            watched=mono - self._seen[name].since,
            terms=lease.terms_of(doc, self.defaults),
            same_host=same_host,
            alive=locking.probe(self.queue, info.get("lock")) if same_host else None,
            started=lease.started_on_fs_clock(doc),
            cache=self.cache,
        )

    def _forget_gone(self, present: set[str]) -> None:
        for name in [n for n in self._seen if n not in present]:
            del self._seen[name]
        for name in [n for n in self._docs if n not in present]:
            del self._docs[name]

    # --------------------------------------------------------------- reclaim
    def _reclaim(
        self, name: str, doc: Doc, st: os.stat_result, verdict: Verdict, wall: datetime
    ) -> Reclaim | None:
        worker = str(doc.get("worker_id") or layout.worker_of_running(name))
        error = lease.describe(verdict, worker=worker, by=self.by, now=wall)
        expected = _sig(st)

        def unchanged(held: Path) -> None:
            if verdict.why != "eta exceeded" and _sig(os.stat(held))[:2] != expected[:2]:
                raise _Renewed

        try:
            located = self.queue.transact(
                "running",
                name,
                lambda d: lease.reclaim(d, error, wall),
                on_take=unchanged,
            )
        except FileNotFoundError:
            return None  # another sweeper won, or the owner finished meanwhile
        except _Renewed:
            log.warning("not reclaiming %s: its lease was renewed as we took it; given back", name)
            return None
        assert located is not None
        _count_failure(self.queue, worker)
        new = located.doc
        log.info(
            "reclaimed task %s from worker %s (%s: %s); now %s, retries %s/%s",
            new["task_id"],
            worker,
            verdict.why,
            verdict.detail,
            located.dirname,
            new.get("retries"),
            new.get("max_retries"),
        )
        return Reclaim(
            new["task_id"],
            worker,
            verdict,
            layout.status_value(located.dirname),
            int(new.get("retries") or 0),
            int(new.get("max_retries") or 0),
        )

    def _janitor(self, result: Sweep, fs_now: float, locks_in_use: set[str]) -> None:
        recovered = self.queue.recover_held(older_than=self.tmp_age)
        for name in recovered:
            log.info("recovered tmp/%s, left by a process that died holding it", name)
        result.recovered += recovered
        result.locks_removed = locking.clean(self.queue, keep=locks_in_use)


def _sig(st: os.stat_result) -> Signature:
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _count_failure(queue: FsQueue, worker_id: str) -> None:
    """The dead (or late) worker failed this task; its document may be held for a moment."""
    for attempt in range(4):
        try:
            workers.record_failure(queue, worker_id)
            return
        except WorkerNotFound:
            time.sleep(0.05 * (attempt + 1))
    log.debug("worker %s has no document; its failure is not counted", worker_id)
