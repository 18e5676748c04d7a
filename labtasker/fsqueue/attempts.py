"""``attempts/``, its one owner: the runs that lost their task, kept beside the one that won.

Two kinds of record land there. A run that ended without being the task's
current state (its task cancelled, reclaimed or deleted meanwhile: a late
result; or stopped by a signal) is kept by ``keep_run`` (it has
``finished_at``); a result replaced by a merge, a re-queue or a cancel is kept
whole (``archive``: the run's own fields, no finish time of its own).
A file's name starts with its task id, so one task's records are found from a
listing without reading anyone else's.
"""

from __future__ import annotations

import copy
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from labtasker.fsqueue import atomic, codec, ids, layout
from labtasker.fsqueue.store import Doc, FsQueue
from labtasker.fsqueue.versions import canonical_doc, digest, life_fields, life_key, life_of, run_id

DIRNAME = "attempts"
ARCHIVE_REASON = "another version of this task took its place, or the task was deleted (a merge, a re-queue, a cancel or a delete)"
# The time a record is placed at, best first: when the run ended, its last sign of life, when it began.
TIME_FIELDS = ("finished_at", "last_heartbeat", "start_time", "created_at")
LATEST = datetime.max.replace(tzinfo=timezone.utc)  # where a record with no time sorts


def task_id_of(name: str) -> str:
    """The task id in an ``attempts/`` file name (``<task_id>--<worker>--<nonce>.yaml``)."""
    return layout.task_id_of(DIRNAME, name)


def names(queue: FsQueue, task_id: str | None = None) -> list[str]:
    """File names of the records of one task (every task with None), from one listing."""
    found = queue.names(DIRNAME)
    if task_id is None:
        return found
    prefix = f"{task_id}{layout.SEP}"
    return [n for n in found if n.startswith(prefix)]


def counts(queue: FsQueue) -> Counter[str]:
    """Number of records per task id, from one listing and no reads."""
    return Counter(task_id_of(n) for n in queue.names(DIRNAME))


def read(queue: FsQueue, task_id: str | None = None) -> list[tuple[str, Doc]]:
    """(file name, document) of the records of one task (or all), oldest first.

    A file that vanished meanwhile is skipped; an unreadable one is quarantined
    by ``FsQueue.read`` like any other queue file.
    """
    found = []
    for name in names(queue, task_id):
        doc = queue.read(DIRNAME, name)
        if doc is not None:
            found.append((name, doc))
    return sorted(found, key=order)


def when(doc: Doc) -> datetime | None:
    """The time a record is placed at (see ``TIME_FIELDS``), aware, or None if it holds none."""
    for key in TIME_FIELDS:
        stamp = as_time(doc.get(key))
        if stamp is not None:
            return stamp
    return None


def order(item: tuple[str, Doc]) -> tuple[datetime, str]:
    """Sort key: oldest first; records with no time last, then by file name."""
    name, doc = item
    return (when(doc) or LATEST, name)


def as_time(value: Any) -> datetime | None:
    """A YAML timestamp (or an ISO 8601 string a person wrote) as an aware datetime."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


# ------------------------------------------------- results kept when replaced
def archive(doc: Doc) -> tuple[str, Doc]:
    """The ``attempts/`` file name and record that keep a superseded result.

    Both depend only on the result itself, so every replica (and a re-queue,
    which keeps the result it replaces) writes the same file.
    """
    rev, node, stamp = life_of(doc)
    worker = str(doc.get("worker_id") or "none")
    if not ids.SAFE_ID.match(worker) or layout.SEP in worker:
        worker = "w" + digest(worker)
    name = layout.attempt_name(doc["task_id"], worker, "m" + digest([doc["task_id"], run_id(doc)])[:10])
    record = copy.deepcopy(life_fields(doc))
    record.update(life=[rev, node, stamp], node=node, reason=ARCHIVE_REASON)
    return name, canonical_doc(record)


def is_archive_name(name: str) -> bool:
    """True for ``attempts/`` names written by ``archive`` (their nonce starts with ``m``)."""
    parts = name[: -len(layout.SUFFIX)].split(layout.SEP) if name.endswith(layout.SUFFIX) else []
    return len(parts) == 3 and parts[2].startswith("m")


def join_archives(a: Doc, b: Doc) -> Doc:
    """Two records of one run (versions met under one name): the better lifecycle."""
    return a if life_key(a) <= life_key(b) else b


def write_archive(queue: FsQueue, name: str, record: Doc) -> bool:
    """Keep a superseded result under ``attempts/name``; two records of one run are joined."""
    path = queue.path / "attempts" / name
    old = _bytes_or_none(path)
    if old is not None:
        try:
            record = join_archives(codec.load(old, required_key="task_id"), record)
        except codec.Unreadable:
            queue.quarantine("attempts", name, "unreadable")
    data = codec.dump(canonical_doc(record))
    if data == old:
        return False
    atomic.write_atomic(path, data, queue.tmp)
    return True


def keep_run(
    queue: FsQueue,
    *,
    task_id: str,
    worker_id: str | None,
    status: str,
    error: Any,
    reason: str,
    finished_at: datetime,
    summary: dict[str, Any] | None = None,
    start_time: datetime | None = None,
) -> None:
    """Keep a run that is not (or no longer) its task's current state."""
    record: Doc = {"task_id": task_id, "worker_id": worker_id, "status": status, "summary": summary or {},
                   "last_error": error}  # fmt: skip
    if start_time is not None:
        record["start_time"] = start_time
    record.update(finished_at=finished_at, node=queue.node, reason=reason)
    queue.put(DIRNAME, record)


def kept_since(queue: FsQueue, task_id: str, worker_id: str, reason: str, since: datetime) -> bool:
    """True if this worker's run of the task left a record with ``reason``, finished at ``since`` or later."""
    prefix = f"{task_id}{layout.SEP}{worker_id}{layout.SEP}"
    for name in names(queue, task_id):
        doc = queue.read(DIRNAME, name) if name.startswith(prefix) else None
        if (
            doc is not None
            and doc.get("reason") == reason
            and isinstance(doc.get("finished_at"), datetime)
            and doc["finished_at"] >= since
        ):
            return True
    return False


def keep_replaced(queue: FsQueue, doc: Doc) -> None:
    """A user's re-queue or cancel replaces a finished result: keep it in ``attempts/``."""
    name, record = archive(doc)
    write_archive(queue, name, record)


_FAILED_RUN = ("summary", "retries", "last_error", "last_modified")  # what a failure writes on the run


def keep_failed(queue: FsQueue, running: Doc, retried: Doc) -> None:
    """A failed run whose task is retried (``running`` before the failure, ``retried`` the pending
    task after): keep the run, its error, summary and args, in ``attempts/``, so it survives
    even if another replica's version of the task wins the merge."""
    doc = dict(running, **{k: retried.get(k) for k in _FAILED_RUN}, status="failed")
    name, record = archive(doc)
    retries = int(doc.get("retries") or 0)
    record["reason"] = f"failed; will retry ({retries + 1}/{doc.get('max_retries')})"
    record["finished_at"] = doc.get("last_modified")
    write_archive(queue, name, record)


def _bytes_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
