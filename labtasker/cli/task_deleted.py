"""``labtasker task ls --deleted``: the tombstones in ``deleted/``, each with who deleted it when."""

from __future__ import annotations

from typing import Any

from labtasker import api
from labtasker.cli import listing, output
from labtasker.fsqueue import attempts, tombstones

_HEADERS = ["TASK_ID", "NAME", "DELETED", "BY", "WAS", "ATTEMPTS", "ARGS"]


def deleted_records(
    task_id: str | None = None, task_name: str | None = None, extra_filter: str | None = None
) -> list[dict[str, Any]]:
    """Deleted tasks (oldest deletion first), each with how many runs of it ``attempts/`` keeps."""
    queue = api.context().queue
    if not queue.exists():
        return []
    match = api._compile(extra_filter)
    counts = attempts.counts(queue)
    out = []
    for tid, tombs in tombstones.read(queue, task_id).items():
        record = tombstones.record(tid, tombs)
        if task_name is not None and record.get("task_name") != task_name:
            continue
        if match is not None and not match(record):
            continue
        record["attempts"] = counts[tid]
        out.append(record)
    return sorted(out, key=lambda r: (r["deleted_at"] or attempts.LATEST, r["task_id"]))


def render_deleted(records: list[dict[str, Any]], fmt: str) -> Any:
    """Lines of output for deleted tasks in a format (those of ``task ls``)."""
    if fmt != "table":
        return listing.lines(fmt, records)
    if not records:
        return iter(())
    rows = [
        [
            r["task_id"],
            r.get("task_name") or "-",
            output.compact(r["deleted_at"]),
            r["deleted_by"] or "-",
            r.get("was") or "-",
            str(r["attempts"]),
            output.compact(r.get("args") or {}),
        ]
        for r in records
    ]
    return output.table(rows, _HEADERS, width=output.terminal_width())
