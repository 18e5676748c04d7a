"""The task state machine and the pure document changes; no I/O, ``now`` given."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from labtasker.errors import InvalidTransition
from labtasker.fsqueue import ran_with, versions
from labtasker.fsqueue.documents import (
    DICT_FIELDS,
    check_int,
    check_key,
    deep_merge,
    expand,
)  # fmt: skip
from labtasker.fsqueue.layout import TaskStatus, parse_status

P, R, S, F, C = (TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.SUCCESS,
                 TaskStatus.FAILED, TaskStatus.CANCELLED)  # fmt: skip

# Changes a user may ask for. pending -> running happens only by a claim.
ALLOWED: dict[TaskStatus, set[TaskStatus]] = {
    P: {P, C},
    R: {R, P, S, F, C},
    S: {S, P, C},
    F: {F, P, C},
    C: {C, P},
}
SCALAR_FIELDS = ("task_name", "priority", "max_retries", "cmd", "heartbeat_timeout", "task_timeout")
UPDATABLE = (*DICT_FIELDS, *SCALAR_FIELDS, "status")
RETRY_BACKOFF = 1.0  # seconds a failed task waits before its first retry; doubles with each retry
RETRY_BACKOFF_CAP = 60.0


def check_transition(task_id: str, old: TaskStatus, new: TaskStatus) -> None:
    """Raise InvalidTransition for a change the state machine does not allow."""
    if new not in ALLOWED[old]:
        allowed = ", ".join(sorted(s.value for s in ALLOWED[old]))
        raise InvalidTransition(
            f"task {task_id} cannot go from {old.value} to {new.value} "
            f"(from {old.value} it may go to: {allowed}; use reset_pending to re-queue)"
        )


def apply_update(
    doc: dict[str, Any],
    fields: dict[str, Any],
    *,
    replace_fields: tuple[str, ...] = (),
    reset_pending: bool = False,
    now: datetime,
    node: str = "",
) -> tuple[TaskStatus, dict[str, Any]]:
    """A user's edit: merge dict fields (or replace those named), set scalars, move status.

    ``node`` (the editing replica) goes into the edit's clocks, which decide
    concurrent edits when replicas merge (replicas/merge.py).
    """
    for name in replace_fields:
        if name not in DICT_FIELDS and name not in SCALAR_FIELDS:
            raise ValueError(f"replace_fields names {name!r}, which is not an updatable field")
    old = parse_status(doc["status"])
    new = old
    edited: dict[str, Any] = {}
    args_before = copy.deepcopy(doc.get("args"))
    for name, value in fields.items():
        if name in DICT_FIELDS:
            value = edited[name] = expand(value, name)
            doc[name] = value if name in replace_fields else deep_merge(doc.get(name) or {}, value)
        elif name in ("priority", "max_retries"):
            doc[name] = check_int(value, name, minimum=0 if name == "max_retries" else None)
        elif name == "status":
            new = parse_status(value)
        elif name in SCALAR_FIELDS:
            doc[name] = value
        if name in SCALAR_FIELDS:
            edited[name] = doc[name]
        elif name not in DICT_FIELDS and name != "status":
            raise ValueError(f"{name!r} is not a field a user may update")
    if reset_pending:
        new = P
        doc["retries"] = 0
    check_transition(doc["task_id"], old, new)
    if new == P and (old != P or reset_pending):
        _to_pending(doc)
        doc["summary"] = {}  # the summary shown belongs to the current lifecycle; the old one is an attempt
        doc.pop(ran_with.KEY, None)
    doc["last_modified"] = now
    gen = versions.bump_gen(doc, status_change=new != old or reset_pending)
    versions.note_edit(doc, edited, replace_fields, gen, node)
    ran_with.note_intent(doc, args_before, old.value)
    return new, doc


def patch_path(fields: dict[str, Any], path: str, value: Any) -> None:
    """Fold a CLI-style ``a.b.c=value`` patch into an update's fields."""
    parts = path.split(".")
    for part in parts:
        check_key(part, "update")
    top = parts[0]
    if top not in UPDATABLE:
        raise ValueError(f"{top!r} is not a field a user may update (try one of {', '.join(UPDATABLE)})")
    if len(parts) == 1:
        fields[top] = value
        return
    if top not in DICT_FIELDS:
        raise ValueError(f"{top!r} is not a dict field, so {path!r} cannot patch inside it")
    node = fields.setdefault(top, {})
    for part in parts[1:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def claim(doc: dict[str, Any], worker_id: str, now: datetime) -> dict[str, Any]:
    """A pending task taken by a worker."""
    doc["worker_id"] = worker_id
    doc["start_time"] = now
    doc["last_heartbeat"] = now
    doc["last_modified"] = now
    doc["summary"] = {}
    doc[ran_with.KEY] = ran_with.record(doc)  # the result will belong to these args
    doc.pop("retry_at", None)
    return doc


def succeed(doc: dict[str, Any], summary: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    """A run that returned normally; an earlier attempt's error is no longer the task's."""
    merge_summary(doc, summary)
    doc["last_error"] = None
    doc["last_modified"] = now
    return doc


def retry_delay(retries: int, backoff: float) -> float:
    """Seconds a task waits before retry number ``retries``: ``backoff``, doubling, capped."""
    if backoff <= 0 or retries <= 0:
        return 0.0
    return float(min(RETRY_BACKOFF_CAP, backoff * 2.0 ** (retries - 1)))


def fail(
    doc: dict[str, Any],
    error: Any,
    now: datetime,
    summary: dict[str, Any] | None = None,
    *,
    backoff: float = RETRY_BACKOFF,
) -> tuple[TaskStatus, dict[str, Any]]:
    """A failed attempt: one more retry counted, back to pending (not before ``retry_at``) or failed."""
    merge_summary(doc, summary)
    doc["retries"] = int(doc.get("retries") or 0) + 1
    doc["last_error"] = error
    doc["last_modified"] = now
    if doc["retries"] >= int(doc.get("max_retries") or 0):
        return F, doc
    _to_pending(doc)
    delay = retry_delay(doc["retries"], backoff)
    if delay:
        doc["retry_at"] = now + timedelta(seconds=delay)
    return P, doc


def release(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A run stopped from outside (a signal): back to pending at once, no retry counted."""
    _to_pending(doc)
    doc["last_modified"] = now
    return doc


def merge_summary(doc: dict[str, Any], summary: dict[str, Any] | None) -> None:
    """Summary updates replace top-level keys and keep the others; an empty dict empties it."""
    if summary is not None and not summary:
        doc["summary"] = {}
    elif summary:
        merged = dict(doc.get("summary") or {})
        merged.update(copy.deepcopy(expand(summary, "summary")))
        doc["summary"] = merged


def _to_pending(doc: dict[str, Any]) -> None:
    doc["worker_id"] = None
    doc["start_time"] = None
    doc["last_heartbeat"] = None
    doc.pop("lease", None)  # the terms of a run that is over
    doc.pop("retry_at", None)  # a re-queue by hand runs at once
