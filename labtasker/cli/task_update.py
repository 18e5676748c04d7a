"""``labtasker task update``: patch fields of selected tasks, or edit them as YAML."""

from __future__ import annotations

import sys
from typing import Any

from plumbum import cli

from labtasker import api
from labtasker.api_models import Task, TaskUpdateRequest
from labtasker.cli import output
from labtasker.cli.args import parse_assignment
from labtasker.cli.base import read_ids_from_stdin
from labtasker.cli.task import Selection, count_arg, positive
from labtasker.errors import LabtaskerError, UsageError
from labtasker.fsqueue import documents as model
from labtasker.fsqueue import layout, transitions

Change = tuple[str, dict[str, Any], list[str]]  # task id, fields, fields to replace whole


class Update(Selection):
    """Update tasks: -u 'args.lr=0.01' (repeatable), field=value after --, --reset-pending or --editor"""

    updates = cli.SwitchAttr(
        ["-u", "--update"],
        str,
        list=True,
        argname="FIELD=VALUE",
        help="Set a field; a dotted path patches one key (args.lr=0.01), "
        "a whole dict field is replaced (args={...}); repeatable",
    )
    reset_pending = cli.Flag(
        ["--reset-pending"], help="Put the tasks back to pending with retries reset to 0"
    )
    quiet = cli.Flag(["-q", "--quiet"], help="No confirmation and no output (for scripts and pipes)")
    yes = cli.Flag(["-y", "--yes"], help="Do not ask before updating several tasks picked by a query")
    limit = cli.SwitchAttr(
        ["--limit"],
        positive,
        argname="INT",
        help="Update at most this many of the matching tasks (in listing order); "
        "a count you give is taken as your confirmation",
    )
    offset = cli.SwitchAttr(
        ["--offset"], count_arg, default=0, argname="INT", help="Skip this many matching tasks first"
    )
    editor = cli.Flag(["--editor"], help="Edit the selected tasks as YAML in $EDITOR")

    def main(self, *assignments: str) -> int:
        fields, replace = build_update([*self.updates, *assignments])
        if self.editor and (fields or replace):
            raise UsageError("--editor edits the fields in the editor: drop -u and field=value")
        if not fields and not self.reset_pending and not self.editor:
            raise UsageError(
                "nothing to update: give -u field=value, field=value after --, --reset-pending or --editor"
            )
        ids, tasks = self._targets()
        if not ids:
            if not self.quiet:
                output.info("no task matches; nothing updated")
            return 0
        if self.editor:
            changes = edit_tasks(tasks or [api.get_task(i) for i in ids], self.reset_pending)
            if self.reset_pending:  # every selected task is re-queued, edited or not
                edited = {c[0] for c in changes}
                changes += [(i, {}, []) for i in ids if i not in edited]
        else:
            changes = [(task_id, fields, replace) for task_id in ids]
            self._confirm(ids)
        return self._apply(changes)

    def _targets(self) -> tuple[list[str], list[Task] | None]:
        """Ids of the tasks to update (and the tasks, when a query found them)."""
        only_id = self.task_id is not None and not any((self.task_name, self.status, self.extra_filter))
        if only_id:  # the per-id path used with xargs: no listing at all
            return [self.task_id], None
        if self.has_selector():
            tasks = self.select(None, self.offset)
            if self.limit is not None and len(tasks) > self.limit:
                output.info(f"{len(tasks)} tasks match; updating the first {self.limit} (--limit)")
                tasks = tasks[: self.limit]
            return [t.task_id for t in tasks], tasks
        if output.is_tty(sys.stdin):
            raise UsageError(
                "select tasks with --id, --name, -s or -f, or pipe ids: "
                "labtasker task ls -s failed -q | labtasker task update --reset-pending"
            )
        return list(dict.fromkeys(read_ids_from_stdin())), None

    def _confirm(self, ids: list[str]) -> None:
        """Before a query changes several tasks, say how many: a wrong filter must not cost data.

        On a terminal the user confirms; -y, -q or a --limit of their own is
        consent given in advance. Without a terminal nothing is asked (a script
        must never hang, and scripts of the original update without asking):
        the count goes to stderr instead. Ids given one by one (--id, a pipe)
        are what the user meant and are not questioned.
        """
        by_query = any(v is not None for v in (self.task_name, self.status, self.extra_filter))
        if not by_query or len(ids) < 2 or self.quiet or self.yes or self.limit is not None:
            return
        preview = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        if not output.can_prompt():
            output.info(f"updating {len(ids)} tasks that match the selection: {preview}")
            return
        print(f"{len(ids)} tasks match: {preview}", file=sys.stderr)
        if not output.confirm(f"Update all {len(ids)} tasks?"):
            raise LabtaskerError("cancelled; nothing was updated")

    def _apply(self, changes: list[Change]) -> int:
        """Update each task; with several, one that fails does not stop the others."""
        done, failed = 0, 0
        for task_id, fields, replace in changes:
            request = TaskUpdateRequest(task_id=task_id, replace_fields=replace, **fields)
            try:
                api.update_tasks([request], reset_pending=self.reset_pending)
                done += 1
            except (LabtaskerError, ValueError) as exc:
                if len(changes) == 1:
                    raise  # one task: its error is the command's error
                failed += 1
                output.warn(f"task {task_id}: {exc}")
        if not self.quiet:
            print(f"updated {done} task{'s' if done != 1 else ''}" + (f"; {failed} failed" if failed else ""))
        return 1 if failed else 0


def build_update(assignments: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Fields and replace_fields of ``field.path=value`` assignments, checked before any write."""
    fields: dict[str, Any] = {}
    replace: list[str] = []
    for text in assignments:
        path, value = parse_assignment(text)
        try:
            transitions.patch_path(fields, path, value)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if "." not in path and path in model.DICT_FIELDS and path not in replace:
            replace.append(path)
    _check(fields)
    return fields, replace


def _check(fields: dict[str, Any]) -> None:
    try:
        for name, value in fields.items():
            if name in model.DICT_FIELDS:
                model.expand(value, name)
            elif name in ("priority", "max_retries"):
                model.check_int(value, name, minimum=0 if name == "max_retries" else None)
            elif name == "status":
                layout.parse_status(value)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


# ------------------------------------------------------------------ editor
_HEADER = """\
# Edit the tasks, save and close the editor to apply the changes.
# Fields under "read-only" are shown for reference; changes to them are ignored.
# Keep the tasks in this order and leave task_id as it is.
# A dict field you change (args, metadata, summary) replaces the old one as a whole.
"""


def editable_fields(reset_pending: bool) -> tuple[str, ...]:
    """Fields a user may change in the editor."""
    names = tuple(f for f in transitions.UPDATABLE if f not in ("cmd",))
    return tuple(f for f in names if f != "status") if reset_pending else names


def edit_tasks(tasks: list[Task], reset_pending: bool) -> list[Change]:
    """Open the tasks as YAML in the editor; return the changes made (loops on invalid YAML)."""
    from labtasker.cli import editor

    fields = editable_fields(reset_pending)
    text = _HEADER + "\n".join(_task_yaml(t, fields) for t in tasks)
    _, changes = editor.edit_until_valid(text, lambda edited: diff_edited(tasks, edited, fields), ".yaml")
    if not changes and not reset_pending:
        output.info("no changes")
    return changes


def _task_yaml(task: Task, fields: tuple[str, ...]) -> str:
    import yaml

    record = output.plain(task.to_dict())
    record.pop("queue_name", None)
    editable = {"task_id": record.pop("task_id"), **{f: record.pop(f) for f in fields if f in record}}
    lines = yaml.safe_dump(editable, sort_keys=False, allow_unicode=True).splitlines()
    lines.append("# read-only:")
    lines += yaml.safe_dump(record, sort_keys=False, allow_unicode=True).splitlines()
    return "\n".join(("- " if i == 0 else "  ") + line for i, line in enumerate(lines)) + "\n"


def diff_edited(tasks: list[Task], text: str, fields: tuple[str, ...]) -> list[Change]:
    """Changes between the tasks and their edited YAML; UsageError if the YAML is unusable."""
    import yaml

    try:
        edited = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"the edited text is not valid YAML: {' '.join(str(exc).split())}") from None
    if (
        not isinstance(edited, list)
        or len(edited) != len(tasks)
        or not all(isinstance(e, dict) for e in edited)
    ):
        raise UsageError(
            f"expected a list of {len(tasks)} tasks in the original order; do not add or remove tasks"
        )
    changes = []
    for task, new in zip(tasks, edited, strict=False):
        if new.get("task_id") != task.task_id:
            raise UsageError(
                f"task_id {new.get('task_id')!r} should be {task.task_id!r}: "
                "do not change task ids or reorder tasks"
            )
        change = _task_change(task, new, fields)
        if change is not None:
            changes.append(change)
    return changes


def _task_change(task: Task, new: dict[str, Any], fields: tuple[str, ...]) -> Change | None:
    old = output.plain(task.to_dict())
    changed: dict[str, Any] = {}
    for key, value in new.items():
        if key == "task_id" or old.get(key) == output.plain(value):
            continue
        if key not in fields:
            what = "is read-only" if key in old else "is not a task field"
            output.warn(f"task {task.task_id}: {key} {what}; the change was ignored")
        elif value is None:
            output.warn(f"task {task.task_id}: {key} cannot be emptied; the change was ignored")
        else:
            changed[key] = value
    if not changed:
        return None
    _check(changed)
    return task.task_id, changed, [k for k in changed if k in model.DICT_FIELDS]
