"""``labtasker task``: submit, ls, count, update, delete (and reserve and history, from their own modules)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, cast

from plumbum import cli

from labtasker import api
from labtasker.cli import listing, output
from labtasker.cli.args import parse_dict, parse_task_args
from labtasker.cli.base import Command, Group, argtype, read_ids_from_stdin
from labtasker.errors import LabtaskerError, UsageError
from labtasker.fsqueue import error_record, layout


# ------------------------------------------------------------- value types
@argtype("int")
def whole(text: str) -> int:
    """A whole number (plumbum argtype)."""
    try:
        return int(text)
    except ValueError:
        raise ValueError("expected a whole number") from None


@argtype("int")
def count_arg(text: str) -> int:
    """A whole number >= 0."""
    value = whole(text)
    if value < 0:
        raise ValueError("expected a number >= 0")
    return value


@argtype("int")
def positive(text: str) -> int:
    """A whole number >= 1."""
    value = whole(text)
    if value < 1:
        raise ValueError("expected a number >= 1")
    return value


@argtype("status")
def status_arg(text: str) -> str:
    """A task status (``success`` and its directory name ``done`` both work)."""
    return layout.parse_status(text).value


class Selection(Command):
    """Switches that pick tasks: shared by ls, count and update."""

    task_id = cli.SwitchAttr(["--id", "--task-id"], str, argname="TASK_ID", help="Only the task with this id")
    task_name = cli.SwitchAttr(
        ["--name", "--task-name"], str, argname="NAME", help="Only tasks with this name"
    )
    status = cli.SwitchAttr(
        ["-s", "--status"],
        status_arg,
        argname="STATUS",
        help="Only tasks in this status: pending, running, success, failed, cancelled",
    )
    extra_filter = cli.SwitchAttr(
        ["-f", "--extra-filter"],
        str,
        argname="EXPR",
        help="Only tasks matching a filter expression, e.g. 'args.lr > 0.01'",
    )

    def has_selector(self) -> bool:
        return any(v is not None for v in (self.task_id, self.task_name, self.status, self.extra_filter))

    def select_ids(self, limit: int | None, offset: int = 0, sort: list[str] | None = None) -> list[str]:
        """The ids of the tasks ``select`` gives, without making the tasks."""
        return api.ls_task_ids(**self._query(limit, offset, sort))

    def select(self, limit: int | None, offset: int = 0, sort: list[str] | None = None) -> list[api.Task]:
        """The selected tasks (``limit=None``: all of them)."""
        return api.ls_tasks(**self._query(limit, offset, sort)).content

    def _query(self, limit: int | None, offset: int, sort: list[str] | None) -> dict[str, Any]:
        """The selector switches and the window, as ``ls_tasks`` and ``ls_task_ids`` take them."""
        return {
            "task_id": self.task_id,
            "task_name": self.task_name,
            "status": self.status,
            "extra_filter": self.extra_filter,
            "limit": limit,
            "offset": offset,
            "sort": sort or None,
        }


class TaskGroup(Group):
    """Submit, list, count, update and delete tasks, and show a task's history"""


# ------------------------------------------------------------------ submit
@TaskGroup.subcommand("submit")
class Submit(Command):
    """Submit a task; its args come after --, e.g. `labtasker task submit -- --lr=0.01 --model=vit`"""

    SWITCH_HINT = "task args go after --, e.g. `labtasker task submit -- --lr=0.01`"

    task_name = cli.SwitchAttr(["--name", "--task-name"], str, argname="NAME", help="A name for the task")
    metadata = cli.SwitchAttr(
        ["--metadata"],
        str,
        argname="JSON",
        help="""Metadata as a JSON object or Python dict, e.g. '{"tags": ["v1"]}'""",
    )
    priority = cli.SwitchAttr(["--priority"], whole, argname="INT", help="Higher runs first (default 0)")
    max_retries = cli.SwitchAttr(
        ["--max-retries"],
        count_arg,
        argname="INT",
        help="Failed attempts before the task is failed for good (default 3)",
    )
    args_text = cli.SwitchAttr(
        ["--args"],
        str,
        argname="JSON",
        help="""Args as a JSON object or Python dict instead of after --, e.g. '{"lr": 0.1}'""",
    )
    heartbeat_timeout = cli.SwitchAttr(
        ["--heartbeat-timeout"],
        float,
        argname="SECONDS",
        help="Reclaim the task if its worker is silent this long",
    )
    task_timeout = cli.SwitchAttr(
        ["--task-timeout"],
        str,
        argname="DURATION",
        help="A run of this task longer than this (e.g. 3600, 1h30m) is stopped and retried",
    )
    from_file = cli.SwitchAttr(
        ["--from-file"],
        str,
        argname="FILE",
        help="Submit one task per line of a JSON-lines file ('-' reads stdin)",
    )
    again = cli.Flag(
        ["--again"],
        requires=["--from-file"],
        help="Submit the file's tasks as new ones even if this very file was submitted before",
    )
    cmd = cli.SwitchAttr(
        ["--cmd", "--command"], str, argname="COMMAND", help="A command to keep with the task (its cmd field)"
    )
    quiet = cli.Flag(["-q", "--quiet"], help="Print nothing (the task id is printed otherwise)")

    def main(self, *task_args: str) -> int:
        if self.from_file is not None:
            if task_args or self.args_text:
                raise UsageError(
                    "--from-file takes the args from the file: drop the args after -- and --args"
                )
            done = api.submit_batch(self._batch(_read_lines(self.from_file)), again=self.again)
            ids = done.ids
            if done.already:  # a rerun after a killed run: only the missing lines were written
                print(
                    f"labtasker: {done.already} of {len(ids)} tasks were in the queue already "
                    f"(an earlier run of this file); submitted the other {len(ids) - done.already} "
                    "(--again submits the whole file as new tasks)",
                    file=sys.stderr,
                )
        else:
            if task_args and self.args_text:
                raise UsageError("give the task args either after -- or with --args, not both")
            args = (
                parse_dict(self.args_text, "--args") if self.args_text else parse_task_args(list(task_args))
            )
            ids = [api.submit_task_id(args=args, **self._defaults())]
        if not self.quiet:
            for task_id in ids:
                print(task_id)
        return 0

    def _defaults(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "task_name": self.task_name,
            "metadata": parse_dict(self.metadata, "--metadata") if self.metadata else None,
            "heartbeat_timeout": self.heartbeat_timeout,
        }
        if self.task_timeout is not None:
            out["task_timeout"] = _duration(self.task_timeout)
        if self.cmd is not None:
            out["cmd"] = self.cmd
        if self.priority is not None:
            out["priority"] = self.priority
        if self.max_retries is not None:
            out["max_retries"] = self.max_retries
        return out

    def _batch(self, lines: list[tuple[int, str]]) -> list[dict[str, Any]]:
        defaults = {k: v for k, v in self._defaults().items() if v is not None}
        return [_task_from_line(number, text, defaults) for number, text in lines]


_LINE_KEYS = (
    "args",
    "task_name",
    "name",
    "metadata",
    "priority",
    "max_retries",
    "heartbeat_timeout",
    "task_timeout",
    "cmd",
)


def _duration(text: str) -> float:
    from labtasker.fsqueue import durations

    try:
        value = durations.parse(text)
    except ValueError as exc:
        raise UsageError(f"invalid value {text!r} for --task-timeout: {exc}") from None
    assert value is not None
    return value


def _read_lines(source: str) -> list[tuple[int, str]]:
    """Numbered non-blank, non-comment lines of a file or of stdin."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read --from-file {source}: {exc.strerror or exc}") from None
    return [
        (n, line)
        for n, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _task_from_line(number: int, text: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """One line of a sweep file: ``{"args": {...}, "task_name": ..., ...}``."""
    import json

    where = f"line {number} of --from-file"
    try:
        record = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{where} is not JSON: {exc}") from None
    if not isinstance(record, dict):
        raise UsageError(f'{where} must be a JSON object like {{"args": {{"lr": 0.1}}}}')
    unknown = sorted(set(record) - set(_LINE_KEYS))
    if unknown:
        raise UsageError(
            f'{where} has unknown keys {unknown}: put task args under "args" '
            f"(known keys: {', '.join(_LINE_KEYS)})"
        )
    if "name" in record:
        record["task_name"] = record.pop("name")
    task = dict(defaults)
    if isinstance(defaults.get("metadata"), dict) and isinstance(record.get("metadata"), dict):
        record["metadata"] = {**defaults["metadata"], **record["metadata"]}
    task.update(record)
    return task


# ---------------------------------------------------------------------- ls
@TaskGroup.subcommand("ls")
class Ls(Selection):
    """List tasks (`-q` prints only their ids, for pipes)"""

    sort = cli.SwitchAttr(
        ["-S", "--sort"],
        str,
        list=True,
        argname="FIELD:asc|desc",
        help="Sort by a field, e.g. -S created_at:desc -S summary.acc:desc (repeatable)",
    )
    limit = cli.SwitchAttr(
        ["--limit"], positive, default=100, argname="N", help="Show at most this many tasks"
    )
    offset = cli.SwitchAttr(
        ["--offset"], count_arg, default=0, argname="N", help="Skip this many tasks first"
    )
    columns = cli.SwitchAttr(
        ["-c", "--columns"],
        listing.parse_columns,
        argname="FIELDS",
        help="The columns to show, after the id, e.g. -c args.lr,args.model,summary.acc,error",
    )
    quiet = cli.Flag(["-q", "--quiet"], help="Print only task ids, one per line")
    wide = listing.wide_switch()
    no_pager = cli.Flag(["--no-pager"], help="Never page the output")
    pager = cli.Flag(
        ["--pager"], excludes=["--no-pager"], help="Page long output on a terminal (the default)"
    )
    fmt = listing.fmt_switch()

    deleted = cli.Flag(
        ["--deleted"],
        help="List deleted tasks (their tombstones in deleted/): who deleted each when, and its runs kept",
    )

    def main(self) -> int:
        if self.deleted:
            return self._deleted()
        sort = cast("list[str]", self.sort)  # a list=True switch: plumbum's types say str
        fmt = cast("str", self.fmt)  # one of _FORMATS
        found: list[Any]
        if self.quiet:  # ids only: no tasks made, no queue.yaml read
            found = self.select_ids(self.limit + 1, self.offset, sort)
            lines: Any = iter(found[: self.limit])
        else:
            found = self.select(self.limit + 1, self.offset, sort)
            shown = found[: self.limit]
            lines = render_tasks(shown, fmt, _attempt_counts(shown, fmt), self.columns, self.wide)
        output.emit(lines, pager=not self.no_pager and not self.quiet)
        if len(found) > self.limit:
            output.info(
                f"showing {_count([None] * self.limit)}; more match: raise --limit (e.g. --limit 10000) "
                f"or continue with --offset {self.offset + self.limit}"
            )
        return 0

    def _deleted(self) -> int:
        from labtasker.cli.task_deleted import deleted_records, render_deleted

        if self.status is not None or self.sort:
            raise ValueError("--deleted lists tombstones: it takes --id, --name and -f, not -s or -S")
        found = deleted_records(self.task_id, self.task_name, self.extra_filter)
        shown = found[self.offset : self.offset + self.limit]
        lines = (r["task_id"] for r in shown) if self.quiet else render_deleted(shown, self.fmt)
        output.emit(lines, pager=not self.no_pager and not self.quiet)
        return 0


def render_tasks(
    tasks: list[api.Task],
    fmt: str,
    attempts: dict[str, int] | None = None,
    columns: list[str] | None = None,
    wide: bool = False,
) -> Any:
    """Lines of output for tasks in a format (``attempts``: other runs per task id, table and yaml only)."""
    if fmt == "table":
        if columns:
            return picked_table(tasks, columns, wide)
        return task_table(tasks, attempts, wide)
    if fmt == "csv":
        records = [_flat_record(t) for t in tasks]
        paths = _with_id(columns) if columns else listing.leaf_paths(records)
        return listing.csv_lines(records, paths)
    records = [_record(t, (attempts or {}).get(t.task_id, 0) if fmt == "yaml" else 0) for t in tasks]
    if columns:
        records = [{p: _plain_pick(r, p) for p in _with_id(columns)} for r in records]
    return listing.lines(fmt, records)


def _record(task: api.Task, attempts: int = 0) -> dict[str, Any]:
    record = task.to_dict()
    if record.get("queue_name") is None:
        record.pop("queue_name", None)
    if attempts:
        record["attempts"] = attempts
    return record


def _flat_record(task: api.Task) -> dict[str, Any]:
    """A task as csv rows want it: the usual fields, then its args and summary, and the error's headline."""
    record: dict[str, Any] = {
        "task_id": task.task_id,
        "task_name": task.task_name,
        "status": task.status,
        "priority": task.priority,
        "retries": task.retries,
        "max_retries": task.max_retries,
        "created_at": task.created_at,
        "last_modified": task.last_modified,
        "worker_id": task.worker_id,
    }
    if task.args:
        record["args"] = task.args
    summary = error_record.without_old(task.summary)
    if summary:
        record["summary"] = summary
    record["error"] = error_record.headline(task.error) if task.error else None
    return record


_ALIASES = {"id": "task_id", "name": "task_name"}


def _with_id(columns: list[str]) -> list[str]:
    paths = [_ALIASES.get(c, c) for c in columns]
    return paths if "task_id" in paths else ["task_id", *paths]


def _plain_pick(record: dict[str, Any], path: str) -> Any:
    if path == "error":
        return error_record.headline(record.get("error")) if record.get("error") else None
    value = listing.pick(record, path)
    return None if value is listing.MISSING else value


def _attempt_counts(tasks: list[api.Task], fmt: str) -> dict[str, int] | None:
    """Runs kept in attempts/ per shown task, from one listing (table and yaml only)."""
    if fmt not in ("table", "yaml") or not tasks:
        return None
    from labtasker.fsqueue import attempts

    queue = api.context().queue
    if not queue.exists():
        return {}
    counts = attempts.counts(queue)
    return {t.task_id: counts[t.task_id] for t in tasks if counts[t.task_id]}


def task_table(tasks: list[api.Task], attempts: dict[str, int] | None = None, wide: bool = False) -> Any:
    """A table of tasks; summary, error and attempts columns only when some task has one."""
    if not tasks:
        return iter(())
    summaries = [error_record.without_old(t.summary) for t in tasks]
    headers = ["TASK_ID", "NAME", "STATUS", "PRIORITY", "RETRIES"]
    if attempts:
        headers.append("ATTEMPTS")
    headers.append("ARGS")
    if any(summaries):
        headers.append("SUMMARY")
    with_error = any(t.error for t in tasks)
    if with_error:
        headers.append("ERROR")
    rows = []
    for t, summary in zip(tasks, summaries, strict=True):
        row = [t.task_id, t.task_name or "-", t.status, str(t.priority), f"{t.retries}/{t.max_retries}"]
        if attempts:
            row.append(str(attempts.get(t.task_id, 0)))
        row.append(_args_cell(t))
        if "SUMMARY" in headers:
            row.append(output.compact(summary))
        if with_error:
            row.append(error_record.headline(t.error) if t.error else "-")
        rows.append(row)
    return output.table(rows, headers, width=output.terminal_width(wide=wide))


def picked_table(tasks: list[api.Task], columns: list[str], wide: bool = False) -> Any:
    """A table of the columns asked for with ``-c`` (the id first)."""
    if not tasks:
        return iter(())
    paths = _with_id(columns)
    records = [_record(t) for t in tasks]
    rows = [[_picked_cell(r, p) for p in paths] for r in records]
    headers = [p.upper() for p in paths]
    flex = [h for h in headers if h != "TASK_ID"]
    return output.table(rows, headers, width=output.terminal_width(wide=wide), flex=flex)


def _picked_cell(record: dict[str, Any], path: str) -> str:
    if path == "retries":
        return f"{record['retries']}/{record['max_retries']}"
    if path == "error":
        return error_record.headline(record["error"]) if record.get("error") else "-"
    return listing.cell(listing.pick(record, path))


def _args_cell(task: api.Task) -> str:
    """The args, and the args the shown result ran with when they differ (the result is not theirs)."""
    cell = output.compact(task.args)
    if not task.args_changed:
        return cell
    from labtasker.fsqueue import ran_with

    then = ran_with.differences(task.to_dict())
    return f"{cell} (ran with {', '.join(then)})"


def short_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary without the traceback a failed run leaves (it is in `--fmt yaml`)."""
    return {k: v for k, v in summary.items() if k != "labtasker_exception"} or (
        {"error": summary["labtasker_exception"].get("message")} if "labtasker_exception" in summary else {}
    )


# ------------------------------------------------------------------- count
@TaskGroup.subcommand("count")
class Count(Selection):
    """Count tasks per status"""

    fmt = listing.fmt_switch()

    def main(self) -> int:
        if self.has_selector():
            counts = {s.value: 0 for s in layout.TaskStatus}
            for task in self.select(None):
                counts[task.status] += 1
        else:
            queue = api.context().queue
            counts = queue.count() if queue.exists() else {s.value: 0 for s in layout.TaskStatus}
        total = sum(counts.values())
        if self.fmt == "json":  # one object, as scripts have always read it
            import json

            print(json.dumps({**counts, "total": total}))
        elif self.fmt == "yaml":
            output.emit(listing.yaml_mapping({**counts, "total": total}), pager=False)
        elif self.fmt in ("jsonl", "csv"):
            records = [{"status": k, "count": n} for k, n in counts.items()]
            output.emit(listing.lines(self.fmt, records), pager=False)
        else:
            width = max(len(k) for k in counts)
            for status, n in counts.items():
                print(f"{output.paint(status.ljust(width), output.STATUS_STYLE.get(status))}  {n}")
            print(f"{'total'.ljust(width)}  {total}")
        return 0


# ------------------------------------------------------------------ delete
@TaskGroup.subcommand("delete")
class Delete(Command):
    """Delete tasks by id (ids as arguments or piped on stdin)"""

    yes = cli.Flag(["-y", "--yes"], help="Do not ask for confirmation")

    def main(self, *task_ids: str) -> int:
        ids = list(task_ids)
        if not ids:
            if output.is_tty(sys.stdin):
                raise UsageError(
                    "give task ids to delete, or pipe them: "
                    "labtasker task ls -s failed -q | labtasker task delete -y"
                )
            ids = read_ids_from_stdin()
        if not ids:
            output.info("no task ids given; nothing deleted")
            return 0
        confirm_destructive(f"Delete {_count(ids)}?", ids, self.yes)
        return delete_each(ids)


def confirm_destructive(question: str, ids: list[str], yes: bool) -> None:
    """Ask on a terminal; without one, refuse unless ``-y`` was given."""
    if yes:
        return
    if not output.can_prompt():
        raise UsageError("refusing to delete without confirmation: add -y (--yes)")
    preview = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
    print(preview, file=sys.stderr)
    if not output.confirm(question):
        raise LabtaskerError("cancelled; nothing was deleted")


def delete_each(ids: list[str]) -> int:
    """Delete tasks one by one; one that cannot be deleted does not stop the others."""
    done, failed = 0, 0
    for task_id in dict.fromkeys(ids):
        try:
            api.delete_task(task_id)
            done += 1
        except (LabtaskerError, ValueError) as exc:
            failed += 1
            output.warn(str(exc))
    print(f"deleted {_count([None] * done)}" + (f"; {failed} could not be deleted" if failed else ""))
    return 1 if failed else 0


def _count(items: list[Any]) -> str:
    return f"{len(items)} task" + ("" if len(items) == 1 else "s")


TaskGroup.subcommand("update", "labtasker.cli.task_update.Update")
TaskGroup.subcommand("history", "labtasker.cli.task_history.History")
TaskGroup.subcommand("log", "labtasker.cli.task_log.Log")
TaskGroup.subcommand("reserve", "labtasker.cli.reserve.Reserve")
