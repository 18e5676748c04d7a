"""One look at the queue for the TUI: counts per state and the rows of one view.

Runs in a worker thread; everything here is plain data so the UI thread only
renders. Reads go through ``FsQueue.read`` (cached by inode, size and mtime),
so rescanning an unchanged queue of 10^4 tasks costs stats, not parses.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from labtasker.errors import FilterError
from labtasker.filters import language as flt
from labtasker.fsqueue import layout
from labtasker.fsqueue.store import FsQueue
from labtasker.tui import columns as cols

TASK_STATES = ("pending", "running", "success", "failed", "cancelled")
STATES = (*TASK_STATES, "attempts", "quarantine")
DIRNAME = {
    **{s.value: s.dirname for s in layout.TaskStatus},
    "attempts": "attempts",
    "quarantine": "quarantine",
}


@dataclass(frozen=True)
class View:
    """What the user asked to see: a state, a filter, a sort and the metric columns."""

    state: str = "pending"
    expr: str = ""
    sort: str | None = None
    reverse: bool = False
    metrics: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Row:
    """One table row: its file (the row key), its task id and its cells."""

    key: str
    task_id: str
    cells: tuple[str, ...]


@dataclass
class Snapshot:
    """The result of a scan, ready to render."""

    view: View
    counts: dict[str, int]
    columns: list[tuple[str, str, bool]] = field(default_factory=list)  # key, label, numeric
    rows: list[Row] = field(default_factory=list)
    shown: int = 0
    matched: int = 0
    total: int = 0
    error: str | None = None
    signature: tuple[int, int] = (0, 0)
    built_at: datetime | None = None


def counts(queue: FsQueue) -> dict[str, int]:
    """Files per state, from directory listings alone."""
    out = queue.count()
    out["attempts"] = len(queue.names("attempts"))
    out["quarantine"] = len(_listdir(queue.path / "quarantine"))
    return out


def load_docs(queue: FsQueue, state: str) -> list[tuple[str, dict[str, Any]]]:
    """(file name, document) of every readable file of a state, in directory order."""
    if state == "quarantine":
        return [(name, _quarantined(queue, name)) for name in sorted(_listdir(queue.path / "quarantine"))]
    dirname = DIRNAME[state]
    out = []
    for name in queue.names(dirname):
        doc = queue.read(dirname, name)
        if doc is not None:
            out.append((name, doc))
    return out


def compile_filter(expr: str, now: datetime) -> Callable[[dict[str, Any]], bool]:
    """The predicate of a filter expression (raises FilterError with a readable message)."""
    return flt.compile(expr or None, now=now)


MAX_ROWS = 1000  # rows put on screen; sorting and filtering see every task
REBUILD_AFTER = 30.0  # seconds: an unchanged directory is re-read this often anyway (ages, coarse mtimes)


def scan(
    queue: FsQueue, view: View, now: datetime, previous: Snapshot | None = None, max_rows: int = MAX_ROWS
) -> Snapshot:
    """Count every state and build the rows of ``view`` (reusing ``previous`` if nothing changed)."""
    signature = _signature(queue, view.state)
    if _still_valid(previous, view, signature, now):
        assert previous is not None
        previous.counts = counts(queue)
        return previous
    snap = Snapshot(view, counts(queue), signature=signature, built_at=now)
    entries = load_docs(queue, view.state)
    snap.total = len(entries)
    if view.state != "quarantine" and view.expr.strip():
        try:
            predicate = compile_filter(view.expr, now)
        except FilterError as exc:
            snap.error = str(exc)
            return snap
        entries = [(n, d) for n, d in entries if predicate(d)]
    build_rows(snap, entries, now, max_rows)
    return snap


def _signature(queue: FsQueue, state: str) -> tuple[int, int]:
    """(mtime, size) of a state directory: any file put in or taken out changes it."""
    try:
        st = os.stat(queue.path / DIRNAME[state])
    except FileNotFoundError:
        return (0, 0)
    return (st.st_mtime_ns, st.st_size)


def _still_valid(previous: Snapshot | None, view: View, signature: tuple[int, int], now: datetime) -> bool:
    if previous is None or previous.view != view or previous.signature != signature or previous.error:
        return False
    built = previous.built_at
    return built is not None and 0 <= (now - built).total_seconds() < REBUILD_AFTER


def build_rows(
    snap: Snapshot, entries: Sequence[tuple[str, dict[str, Any]]], now: datetime, max_rows: int = MAX_ROWS
) -> None:
    """Fill the columns and sorted rows of a snapshot (the first ``max_rows``) from its documents."""
    view = snap.view
    docs = [d for _, d in entries]
    if view.state == "quarantine":
        columns = cols.quarantine_columns(now)
    else:
        columns = cols.task_columns(view.state, docs, now, view.metrics)
    by_id = {id(d): n for n, d in entries}
    ordered = cols.sort_docs(default_order(view.state, docs), columns, view.sort, view.reverse)
    snap.matched = len(ordered)
    ordered = ordered[:max_rows]
    snap.columns = [(c.key, c.label, c.numeric) for c in columns]
    snap.rows = [
        Row(by_id[id(d)], str(d.get("task_id") or d.get("file") or ""), tuple(c.cell(d) for c in columns))
        for d in ordered
    ]
    snap.shown = len(snap.rows)


def default_order(state: str, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pending in claim order (the directory's own order); others newest change first."""
    if state == "pending":
        return docs
    since = [(cols.sort_value(cols.since(d)), d) for d in docs]
    present = sorted((kd for kd in since if kd[0][0] != 3), key=lambda kd: kd[0], reverse=True)
    return [d for _, d in present] + [d for k, d in since if k[0] == 3]


def _listdir(path: os.PathLike[str] | str) -> list[str]:
    try:
        return [n for n in os.listdir(path) if not n.startswith(".")]
    except FileNotFoundError:
        return []


def _quarantined(queue: FsQueue, name: str) -> dict[str, Any]:
    try:
        st = os.stat(queue.path / "quarantine" / name)
    except FileNotFoundError:
        return {"file": name}
    return {"file": name, "size": st.st_size, "mtime": datetime.fromtimestamp(st.st_mtime, timezone.utc)}
