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
from labtasker.fsqueue import error_record, layout

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
        if task is None and not runs:
            where = api.context().queue.path
            raise TaskNotFound(f"no task with id {task_id!r} and no attempts of it in {where}")
        if self.fmt == "jsonl":
            lines: Any = output.jsonl(a.to_dict() for a in runs)
        elif self.fmt == "yaml":
            lines = [_yaml(task, runs)]
        else:
            lines = [state_line(task_id, task), *history_table(runs)]
        output.emit(lines, pager=not self.no_pager)
        return 0


def _current(task_id: str) -> Task | None:
    try:
        return api.get_task(task_id)
    except TaskNotFound:
        return None


def state_line(task_id: str, task: Task | None) -> str:
    """One line saying where the task is now (or that it is gone)."""
    if task is None:
        gone = "deleted" if _tombstoned(task_id) else "not in this queue"
        return f"task {task_id}: {gone}"
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
    name = f" ({task.task_name})" if task.task_name else ""
    return f"task {task_id}{name}: " + ", ".join(parts)


def history_table(runs: list[Attempt]) -> list[str]:
    """One row per attempt; a note when there is none."""
    if not runs:
        return ["no other runs recorded in attempts/"]
    rows = [
        [
            output.compact(a.finished_at),
            a.status or "-",
            a.worker_id or "-",
            a.node or "-",
            key_summary(a),
            a.reason or "-",
        ]
        for a in runs
    ]
    return list(output.table(rows, _HEADERS, width=output.terminal_width()))


def key_summary(run: Attempt) -> str:
    """The summary without a traceback, or the first line of the error when there is no summary."""
    short = short_summary(run.summary)
    if short:
        return output.compact(short)
    return f"error: {error_record.headline(run.error)}" if run.error else "-"


def _yaml(task: Task | None, runs: list[Attempt]) -> str:
    import yaml

    record = None
    if task is not None:
        record = {k: v for k, v in task.to_dict().items() if not (k == "queue_name" and v is None)}
    doc = {"task": record, "attempts": [a.to_dict() for a in runs]}
    return yaml.safe_dump(output.plain(doc), sort_keys=False, allow_unicode=True, width=100).rstrip("\n")


def _tombstoned(task_id: str) -> bool:
    queue = api.context().queue
    return any(layout.task_id_of("deleted", n) == task_id for n in queue.names("deleted"))
