"""What ``worker ls`` shows of a worker: its state as it really is, its host, when last seen,
and the tasks it finished.

A worker file says ``active`` until its loop marks it ``exited``; a loop killed
outright never does. On the host it ran on, its liveness lock tells the truth:
held means it runs, free (or gone) means its process is dead. From another
host nothing can be told, and the stored status is shown.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from labtasker.fsqueue import layout, locking
from labtasker.fsqueue.store import FsQueue


@dataclass
class Seen:
    state: str  # active, idle, dead, suspended, crashed, exited
    host: str | None
    last_seen: datetime | None
    done: int
    failed: int


def observe(queue: FsQueue, docs: list[dict[str, Any]], now: datetime) -> dict[str, Seen]:
    """Each worker's ``Seen``, from one look at the lock folder, running/, done/ and failed/."""
    held = _held_locks(queue, {str(d["worker_id"]) for d in docs})
    beats = _heartbeats(queue)
    done, failed = _finished(queue)
    here = locking.host_key()
    out = {}
    for doc in docs:
        wid = str(doc["worker_id"])
        host = doc.get("host")
        alive = held.get(wid)
        times = [t for t in (_aware(doc.get("last_modified")), beats.get(wid)) if t is not None]
        out[wid] = Seen(
            state=state(doc, alive=alive, same_host=host == here),
            host=str(host).split("/")[0] if host else None,
            last_seen=now if alive else max(times, default=None),
            done=done[wid],
            failed=failed[wid],
        )
    return out


def state(doc: dict[str, Any], *, alive: bool | None, same_host: bool) -> str:
    """The state shown: the stored status, except an ``active`` worker without a live loop.

    ``alive`` is True when a loop of it holds its lock; on its own host a worker
    whose loop is not alive is ``dead`` if a loop ran as it, else ``idle``.
    """
    status = str(doc.get("status") or "active")
    if status != "active" or alive or not same_host:
        return status
    return "dead" if doc.get("sid") is not None else "idle"


def _held_locks(queue: FsQueue, wanted: set[str]) -> dict[str, bool]:
    """Worker id -> True when one of its liveness locks is held (only for workers with lock files)."""
    out: dict[str, bool] = {}
    try:
        names = os.listdir(locking.lock_dir(queue))
    except (FileNotFoundError, NotADirectoryError):
        return out
    for entry in names:
        if entry.startswith(".") or not entry.endswith(locking.SUFFIX):
            continue
        name = entry[: -len(locking.SUFFIX)]
        wid = name.rsplit(layout.SEP, 1)[0]
        if wid in wanted and not out.get(wid):
            out[wid] = locking.probe(queue, name) is True
    return out


def _heartbeats(queue: FsQueue) -> dict[str, datetime]:
    """Worker id -> the latest heartbeat (mtime) of a task it runs."""
    out: dict[str, datetime] = {}
    folder = queue.path / "running"
    for name in queue.names("running"):
        try:
            mtime = os.stat(folder / name).st_mtime
        except FileNotFoundError:
            continue
        wid = layout.worker_of_running(name)
        when = datetime.fromtimestamp(mtime, timezone.utc)
        if wid not in out or when > out[wid]:
            out[wid] = when
    return out


def _finished(queue: FsQueue) -> tuple[Counter[str], Counter[str]]:
    """Tasks in done/ and failed/ per worker that last ran them."""
    done: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    for dirname, _name, view in queue.iter_views([layout.TaskStatus.SUCCESS.dirname, "failed"]):
        wid = view.get("worker_id")
        if wid:
            (done if dirname == layout.TaskStatus.SUCCESS.dirname else failed)[str(wid)] += 1
    return done, failed


def _aware(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, str):
        try:
            return _aware(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def ago(when: datetime | None, now: datetime) -> str:
    """``now``, ``42s ago``, ``5m ago``, ``3h ago``, ``2d ago`` (``-`` for never)."""
    if when is None:
        return "-"
    seconds = max(0.0, (now - when).total_seconds())
    if seconds < 2:
        return "now"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"
