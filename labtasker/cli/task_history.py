"""``labtasker task history``: a task's current state and the runs that lost it (``attempts/``)."""

from __future__ import annotations

import sys
from typing import Any

from plumbum import cli

from labtasker import api
from labtasker.api_models import Attempt, Task
from labtasker.cli import output
from labtasker.cli.base import Command
from labtasker.cli.task import short_summary
from labtasker.errors import TaskNotFound
from labtasker.fsqueue import error_record, ran_with, tombstones

_FORMATS = ("table", "yaml", "jsonl")
_HEADERS = ["WHEN", "STATUS", "WORKER", "NODE", "SUMMARY", "REASON"]


class History(Command):
    """Show a task's current state and every other run of it kept in attempts/ (oldest first)"""

    fmt = cli.SwitchAttr(
        ["--fmt"],
        cli.Set(*_FORMATS),
        default="table",
        argname="FORMAT",
        help="table (the state, then one line per attempt), yaml (both in one document) "
        "or jsonl (one JSON object per attempt)",
    )
    no_pager = cli.Flag(["--no-pager"], help="Never page the output")

    def main(self, task_id: str) -> int:
        task = _current(task_id)
        runs = api.ls_attempts(task_id=task_id, limit=sys.maxsize)
        gone = _tombstone(task_id) if task is None else None
        if task is None and not runs and gone is None:
            where = api.context().queue.path
            raise TaskNotFound(f"no task with id {task_id!r} and no attempts of it in {where}")
        if self.fmt == "jsonl":
            lines: Any = output.jsonl(a.to_dict() for a in runs)
        elif self.fmt == "yaml":
            lines = [_yaml(task, runs, gone)]
        else:
            args = task.args if task is not None else (gone or {}).get("args")
            lines = [state_line(task_id, task, gone), *history_table(runs, args)]
        output.emit(lines, pager=not self.no_pager)
        return 0


def _current(task_id: str) -> Task | None:
    try:
        return api.get_task(task_id)
    except TaskNotFound:
        return None


def state_line(task_id: str, task: Task | None, gone: dict[str, Any] | None = None) -> str:
    """One line saying where the task is now (or who deleted it when, or that it is unknown)."""
    if task is None:
        if gone is None:
            return f"task {task_id}: not in this queue"
        by = f" by {gone['deleted_by']}" if gone.get("deleted_by") else ""
        when = f" at {output.compact(gone['deleted_at'])}" if gone.get("deleted_at") else ""
        was = f" (was {gone['was']})" if gone.get("was") else ""
        return f"task {task_id}: deleted{by}{when}{was}"
    parts = [
        output.paint(task.status, output.STATUS_STYLE.get(task.status)),
        f"retries {task.retries}/{task.max_retries}",
    ]
    if task.worker_id:
        parts.append(f"worker {task.worker_id}")
    if task.last_modified is not None:
        parts.append(f"last change {output.compact(task.last_modified)}")
    if task.summary:
        parts.append(f"summary {output.compact(short_summary(task.summary))}")
    if task.args_changed:
        parts.append(f"ran with {', '.join(ran_with.differences(task.to_dict()))} (args changed since)")
    name = f" ({task.task_name})" if task.task_name else ""
    return f"task {task_id}{name}: " + ", ".join(parts)


def history_table(runs: list[Attempt], args: dict[str, Any] | None = None) -> list[str]:
    """One row per attempt (its summary says what it ran with when ``args`` differ); a note when none."""
    if not runs:
        return ["no other runs recorded in attempts/"]
    rows = [
        [
            output.compact(a.finished_at),
            a.status or "-",
            a.worker_id or "-",
            a.node or "-",
            _with_args(key_summary(a), a, args),
            a.reason or "-",
        ]
        for a in runs
    ]
    return list(output.table(rows, _HEADERS, width=output.terminal_width()))


def _with_args(cell: str, run: Attempt, args: dict[str, Any] | None) -> str:
    if run.ran_with is None or args is None or run.ran_with.get("args") == args:
        return cell
    then = ran_with.differences({"args": args, "ran_with": run.ran_with})
    return f"{cell} (ran with {', '.join(then)})"


def key_summary(run: Attempt) -> str:
    """The summary without a traceback, or the first line of the error when there is no summary."""
    short = short_summary(run.summary)
    if short:
        return output.compact(short)
    return f"error: {error_record.headline(run.error)}" if run.error else "-"


def _yaml(task: Task | None, runs: list[Attempt], gone: dict[str, Any] | None = None) -> str:
    import yaml

    record = gone
    if task is not None:
        record = {k: v for k, v in task.to_dict().items() if not (k == "queue_name" and v is None)}
    doc = {"task": record, "attempts": [a.to_dict() for a in runs]}
    return yaml.safe_dump(output.plain(doc), sort_keys=False, allow_unicode=True, width=100).rstrip("\n")


def _tombstone(task_id: str) -> dict[str, Any] | None:
    """The deleted task as views show it, or None if it has no tombstone here."""
    queue = api.context().queue
    tombs = tombstones.read(queue, task_id).get(task_id) if queue.exists() else None
    return tombstones.record(task_id, tombs) if tombs else None
