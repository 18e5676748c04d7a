"""Lease terms and staleness decisions; pure: every clock reading is a parameter.

A running task's lease is its file's mtime, renewed by the owner's heartbeat.
Whoever decides a lease is stale must not trust a clock it cannot vouch for:

- ``fs_now`` is "now" on the filesystem's own clock (the mtime of a probe file
  the observer just touched), so it and the lease's mtime were stamped by the
  same clock wherever ``utime(now)`` is stamped by the server or the kernel.
- ``watched`` is how long the observer itself saw the file unchanged, on its
  own monotonic clock; no clock offset can fool it.
- On the owner's host both stamps come from one clock, so the age alone is
  trusted; elsewhere the age must be confirmed by watching.

The owner gives up renewing (and stops its job) ``interval`` seconds before
anyone may take its task: ``give_up_after = timeout - interval``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from labtasker.errors import UsageError
from labtasker.fsqueue import durations, transitions
from labtasker.fsqueue.layout import STATE_DIRS

INTERVALS_PER_TIMEOUT = 3
FUTURE_MARGIN = 60.0  # an mtime this far ahead of fs_now was stamped by a clock we cannot trust
Signature = tuple[int, int, int]  # (inode, mtime_ns, size) of a running file


@dataclass(frozen=True)
class Terms:
    """How often a lease is renewed, when it expires, and how long a run may last."""

    interval: float = 30.0
    timeout: float = 90.0
    eta: float | None = None

    @property
    def give_up_after(self) -> float:
        """How long the owner keeps failing to renew before it stops its job itself."""
        return self.timeout - self.interval


def make_terms(interval: Any = 30.0, timeout: Any = None, eta: Any = None) -> Terms:
    """Validated terms (UsageError otherwise); ``timeout`` defaults to three intervals.

    A timeout shorter than two intervals makes the interval a third of it: the
    owner must be able to fail a renewal and still stop its job in time.
    """
    interval = _positive(interval, "heartbeat_interval")
    timeout = interval * INTERVALS_PER_TIMEOUT if timeout is None else _positive(timeout, "heartbeat_timeout")
    if timeout < 2 * interval:
        interval = timeout / INTERVALS_PER_TIMEOUT
    return Terms(interval, timeout, None if eta is None else _positive(eta, "eta_max"))


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise UsageError(f"{name} must be a positive number of seconds, not {value!r}")
    return float(value)


def lease_info(
    terms: Terms, *, host: str, lock: str | None, skew: float, node: str | None = None
) -> dict[str, Any]:
    """What a claim writes into the running file: the loop's terms and how to check its owner.

    ``skew`` is the owner's filesystem clock minus its wall clock, so readers can
    put the owner's ``start_time`` on the filesystem's clock.
    """
    return {
        "host": host,
        "lock": lock,
        "interval": terms.interval,
        "timeout": terms.timeout,
        "eta": terms.eta,
        "skew": round(skew, 3),
        "node": node,
    }


def info_of(doc: dict[str, Any]) -> dict[str, Any]:
    """The ``lease`` mapping of a running task ({} if it has none)."""
    info = doc.get("lease")
    return info if isinstance(info, dict) else {}


def terms_of(doc: dict[str, Any], default: Terms) -> Terms:
    """The terms a running task is held under: its loop's, then the task's own limits."""
    info = info_of(doc)
    interval = _seconds(info.get("interval")) or default.interval
    timeout = _seconds(info.get("timeout")) or default.timeout
    eta = _seconds(info.get("eta")) if info else default.eta
    timeout = _seconds(doc.get("heartbeat_timeout")) or timeout  # set on the task at submit
    eta = eta or _seconds(doc.get("task_timeout"))
    interval = min(interval, timeout / INTERVALS_PER_TIMEOUT) if timeout < 2 * interval else interval
    return Terms(interval, timeout, eta)


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        return None
    return float(value)


def started_on_fs_clock(doc: dict[str, Any]) -> float | None:
    """When the run began, on the filesystem's clock (the owner's start_time plus its skew)."""
    start = doc.get("start_time")
    if not isinstance(start, datetime) or start.tzinfo is None:
        return None
    skew = info_of(doc).get("skew")
    return start.timestamp() + (float(skew) if isinstance(skew, (int, float)) else 0.0)


@dataclass(frozen=True)
class Sighting:
    """A running file as an observer saw it: its signature, and since when unchanged."""

    sig: Signature
    since: float  # the observer's monotonic clock


def sight(prev: Sighting | None, sig: Signature, mono: float) -> Sighting:
    """Update what an observer knows of a file; a changed signature starts a new watch."""
    return prev if prev is not None and prev.sig == sig else Sighting(sig, mono)


@dataclass(frozen=True)
class Verdict:
    """Whether to reclaim a lease (``stale``), and why; ``suspect``: worth watching longer."""

    stale: bool
    why: str = ""
    detail: str = ""
    suspect: bool = False


KEEP = Verdict(False)


def judge(
    *,
    mtime: float,
    fs_now: float,
    watched: float,
    terms: Terms,
    same_host: bool,
    alive: bool | None = None,
    started: float | None = None,
    cache: float = 0.0,
) -> Verdict:
    """Decide on one lease.

    ``alive`` is the owner's liveness lock (None: unknown), ``started`` the run's
    start on the filesystem clock, ``cache`` how stale this host's view of
    another host's renewal may be (the mount's attribute cache).
    """
    if alive is False:
        return Verdict(True, "worker gone", "its liveness lock on this host was free")
    if terms.eta is not None and started is not None and fs_now - started > terms.eta + terms.timeout:
        ran = f"running for {durations.human(fs_now - started)}, eta_max {durations.human(terms.eta)}"
        return Verdict(True, "eta exceeded", ran)
    age = fs_now - mtime
    limit = terms.timeout if same_host else terms.timeout + cache
    by_age = age >= limit
    by_watch = watched >= limit
    if by_age and (same_host or by_watch):
        return Verdict(True, "heartbeat lost", f"not renewed for {durations.human(age)}")
    if by_watch and age < -FUTURE_MARGIN:  # stamped by a clock far ahead: believe only our watch
        return Verdict(True, "heartbeat lost", f"not renewed while watched for {durations.human(watched)}")
    return Verdict(False, suspect=by_age or by_watch)


def describe(verdict: Verdict, *, worker: str, by: str, now: datetime) -> str:
    """The ``last_error`` of a reclaimed task: why, whose run, who took it back and when."""
    stamp = now.isoformat(timespec="seconds")
    return f"lease reclaimed, {verdict.why} ({verdict.detail}): worker {worker}; reclaimed by {by} at {stamp}"


def reclaim(doc: dict[str, Any], error: str, now: datetime) -> tuple[str, dict[str, Any]]:
    """A reclaimed run is a failed attempt: one more retry, back to pending or failed for good.

    It may run again at once: a worker that died says little about the task.
    """
    status, doc = transitions.fail(doc, error, now, backoff=0)
    doc.pop("lease", None)
    return STATE_DIRS[status], doc
