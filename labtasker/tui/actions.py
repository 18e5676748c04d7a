"""What the TUI does to tasks, through the same core calls as the CLI and the API.

Each action runs per task and collects what happened: a task that another
process moved, finished or deleted meanwhile is reported, never half-changed
(``tasks.update`` and ``tasks.delete`` are take/change/put transactions).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from labtasker.errors import LabtaskerError, UsageError
from labtasker.fsqueue import codec, tasks
from labtasker.fsqueue.store import FsQueue

EDITABLE = ("task_name", "priority", "max_retries", "args", "metadata")


@dataclass
class Outcome:
    """Which tasks an action changed and why the others were not."""

    verb: str
    done: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def message(self) -> str:
        """One line for a notification."""
        total = len(self.done) + len(self.failed)
        noun = "task" if total == 1 else "tasks"
        if not self.failed:
            return f"{self.verb} {total} {noun}"
        first_id, why = self.failed[0]
        more = f" (and {len(self.failed) - 1} more)" if len(self.failed) > 1 else ""
        return f"{self.verb} {len(self.done)} of {total} {noun}; {first_id}: {why}{more}"


def each(verb: str, task_ids: Sequence[str], fn: Callable[[str], Any]) -> Outcome:
    """Apply ``fn`` to every task id; a user-level error on one task does not stop the rest."""
    outcome = Outcome(verb)
    for task_id in task_ids:
        try:
            fn(task_id)
        except (LabtaskerError, ValueError) as exc:
            outcome.failed.append((task_id, str(exc)))
        else:
            outcome.done.append(task_id)
    return outcome


def cancel(queue: FsQueue, task_ids: Sequence[str], now: datetime) -> Outcome:
    """Cancel tasks (a running one's worker finds out at its next heartbeat)."""
    return each("cancelled", task_ids, lambda t: tasks.update(queue, t, {"status": "cancelled"}, now=now))


def requeue(queue: FsQueue, task_ids: Sequence[str], now: datetime) -> Outcome:
    """Back to pending with retries 0 (``--reset-pending``)."""
    return each("re-queued", task_ids, lambda t: tasks.update(queue, t, {}, reset_pending=True, now=now))


def set_priority(queue: FsQueue, task_ids: Sequence[str], priority: int, now: datetime) -> Outcome:
    """Change the priority (a pending task moves in the claim order)."""
    return each(
        f"set priority {priority} on",
        task_ids,
        lambda t: tasks.update(queue, t, {"priority": priority}, now=now),
    )


def delete(queue: FsQueue, task_ids: Sequence[str], now: datetime) -> Outcome:
    """Delete tasks, leaving tombstones (as ``labtasker task delete``)."""
    return each("deleted", task_ids, lambda t: tasks.delete(queue, t, now=now))


def edit(
    queue: FsQueue,
    task_ids: Sequence[str],
    fields: dict[str, Any],
    replace_fields: tuple[str, ...],
    now: datetime,
) -> Outcome:
    """Apply an edit made in ``$EDITOR`` to each task."""
    return each(
        "edited", task_ids, lambda t: tasks.update(queue, t, fields, replace_fields=replace_fields, now=now)
    )


def parse_priority(text: str) -> int:
    """A priority typed by the user; UsageError says what is wrong."""
    try:
        return int(text.strip())
    except ValueError:
        raise UsageError(f"priority must be a whole number, not {text.strip()!r}") from None


# ------------------------------------------------------------------ editing
def edit_text(docs: Sequence[dict[str, Any]]) -> str:
    """The YAML a user edits: one task's editable fields, or a patch for several."""
    if len(docs) == 1:
        doc = docs[0]
        head = (
            f"# Editing task {doc['task_id']}. Save and quit to apply; empty the file to cancel.\n"
            "# args and metadata are replaced by what you leave here.\n"
        )
        body = {k: doc.get(k) for k in EDITABLE}
    else:
        head = (
            f"# Editing {len(docs)} tasks. Keys you add under args/metadata are merged into each;\n"
            "# you may also add priority, max_retries or task_name. Empty the file to cancel.\n"
        )
        body = {"args": {}, "metadata": {}}
    return head + codec.dump(body).decode("utf-8")


def parse_edit(text: str, docs: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], tuple[str, ...]] | None:
    """(fields, replace_fields) of an edit; None when cancelled; UsageError when invalid."""
    if not "".join(line for line in text.splitlines() if not line.lstrip().startswith("#")).strip():
        return None
    try:
        body = codec.load(text.encode("utf-8"))
    except codec.Unreadable as exc:
        raise UsageError(f"the edited text is not a YAML mapping ({exc}); nothing was changed") from None
    unknown = sorted(set(body) - set(EDITABLE))
    if unknown:
        raise UsageError(f"cannot edit {', '.join(unknown)}: only {', '.join(EDITABLE)}; nothing was changed")
    for name in ("args", "metadata"):
        if body.get(name) is not None and not isinstance(body[name], dict):
            raise UsageError(f"{name} must be a mapping; nothing was changed")
    if len(docs) == 1:
        fields = {k: v for k, v in body.items() if v != docs[0].get(k)}
        return fields, tuple(k for k in ("args", "metadata") if k in fields)
    fields = {k: v for k, v in body.items() if v not in (None, {})}
    return fields, ()
