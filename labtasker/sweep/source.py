"""Where a results table's tasks come from: a queue folder, opened read-only, and a selection."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from labtasker.fsqueue import layout, ran_with
from labtasker.fsqueue.store import FsQueue

ALL = "all"


def open_queue(folder: str | Path | None = None) -> FsQueue:
    """The queue at ``folder`` (a queue, or a project holding ``.labtasker/``), else the one in use.

    Read-only: a copy rsynced from a cluster, or a folder without write access,
    is read as it is, and an unreadable file is skipped, never moved.
    """
    from labtasker.run_context import open_queue as find

    return find(None if folder is None else str(folder), read_only=True)


def parse_statuses(statuses: str | Sequence[str] | None) -> list[str]:
    """``"success"``, ``"success,failed"`` or ``"all"`` -> state directory names."""
    if statuses is None:
        statuses = "success"
    words = statuses.split(",") if isinstance(statuses, str) else [w for s in statuses for w in s.split(",")]
    words = [w.strip() for w in words if w.strip()]
    if ALL in words:
        return list(layout.STATE_DIRS.values())
    return list(dict.fromkeys(layout.parse_status(w).dirname for w in words))


def load(
    queue: FsQueue,
    statuses: str | Sequence[str] | None = None,
    extra_filter: str | dict[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The task documents in those states (success by default) that match the filter."""
    from labtasker.filters import language

    predicate = language.compile(extra_filter, now=now)
    dirnames = parse_statuses(statuses)
    if not queue.exists():
        return []
    return [_as_run(doc) for _, _, doc in queue.iter_views(dirnames) if predicate(doc)]


def _as_run(doc: Any) -> dict[str, Any]:
    """A task as its result was computed: with the args its run was claimed with, if they
    were changed since (``ran_with``), so a metric is never put against args it did not use."""
    out = dict(doc)
    ran = ran_with.of(out)
    if ran is not None and ran["args"] != (out.get("args") or {}):
        out["args"] = ran["args"]
    return out
