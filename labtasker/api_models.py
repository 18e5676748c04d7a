"""Plain data returned and accepted by the Python API (no I/O)."""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from labtasker.fsqueue import error_record, ran_with
from labtasker.fsqueue.documents import SCALARS, owned_copy
from labtasker.fsqueue.transitions import UPDATABLE


@dataclass
class Task:
    """One task as the usage document describes it; ``summary`` is always a dict."""

    task_id: str
    task_name: str | None = None
    status: str = "pending"
    args: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    priority: int = 0
    max_retries: int = 3
    retries: int = 0
    created_at: datetime | None = None
    last_modified: datetime | None = None
    start_time: datetime | None = None
    last_heartbeat: datetime | None = None
    worker_id: str | None = None
    cmd: Any = None
    heartbeat_timeout: float | None = None
    task_timeout: float | None = None
    last_error: str | None = None  # the current error as text (see ``error`` for its parts)
    queue_name: str | None = None
    error: dict[str, Any] | None = None  # the current error: type, message, traceback (error_record)
    ran_with: dict[str, Any] | None = None  # the args (and their edit gen) the last run was claimed with
    args_changed: bool = False  # the args shown differ from ``ran_with``: the summary is not theirs

    @classmethod
    def from_doc(cls, doc: dict[str, Any], queue_name: str | None = None) -> Task:
        """A Task from a task file's document (copied: the task owns its dicts)."""
        known = _FIELD_NAMES.get(cls)
        if known is None:
            known = _FIELD_NAMES[cls] = frozenset(f.name for f in fields(cls))
        scalar = SCALARS
        values = {k: v if type(v) in scalar else owned_copy(v) for k, v in doc.items() if k in known}
        for name in ("args", "metadata", "summary"):
            if not isinstance(values.get(name), dict):
                values[name] = {}
        values["queue_name"] = queue_name
        values["error"] = error_record.of(doc)
        values["last_error"] = error_record.text(doc.get("last_error")) if values["error"] else None
        values["ran_with"] = owned_copy(ran_with.of(doc))
        values["args_changed"] = ran_with.changed(doc)
        return cls(**values)

    @property
    def _id(self) -> str:  # the original's alias for task_id
        return self.task_id

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_FIELD_NAMES: dict[type, frozenset[str]] = {}


@dataclass
class Attempt:
    """A run that lost its task, as kept in ``attempts/<file>``.

    ``finished_at`` is when the run ended if the record says so, else its last
    heartbeat, its start or the task's creation (a replaced result keeps only
    the run's own times).
    """

    task_id: str
    file: str
    worker_id: str | None = None
    status: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    last_error: str | None = None
    finished_at: datetime | None = None
    start_time: datetime | None = None
    node: str | None = None
    reason: str | None = None
    error: dict[str, Any] | None = None  # last_error's parts: type, message, traceback
    ran_with: dict[str, Any] | None = None  # the args the run was claimed with (see Task.ran_with)

    @classmethod
    def from_doc(cls, name: str, doc: dict[str, Any]) -> Attempt:
        """An Attempt from an ``attempts/`` file's name and document (copied)."""
        from labtasker.fsqueue import attempts

        summary = doc.get("summary")
        return cls(
            task_id=str(doc.get("task_id")),
            file=name,
            worker_id=_text(doc.get("worker_id")),
            status=_text(doc.get("status")),
            summary=copy.deepcopy(summary) if isinstance(summary, dict) else {},
            last_error=error_record.text(doc.get("last_error")),
            finished_at=attempts.when(doc),
            start_time=attempts.as_time(doc.get("start_time")),
            node=_text(doc.get("node")),
            reason=_text(doc.get("reason")),
            error=error_record.of(doc),
            ran_with=copy.deepcopy(ran_with.of(doc)),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass
class Worker:
    """A worker as ``ls_workers`` lists it."""

    worker_id: str
    worker_name: str | None = None
    status: str = "active"
    retries: int = 0
    max_retries: int = 3
    metadata: dict[str, Any] = field(default_factory=dict)
    node: str | None = None
    pid: int | None = None
    created_at: datetime | None = None
    last_modified: datetime | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Worker:
        known = {f.name for f in fields(cls)}
        return cls(**{k: copy.deepcopy(v) for k, v in doc.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Queue:
    """A queue: its name, its folder and its settings."""

    queue_name: str
    path: str
    created_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TaskUpdateRequest:
    """An edit of one task: dict fields merge unless named in ``replace_fields``.

    Accepts the id as ``task_id=...`` or as ``**{"_id": ...}``.
    """

    def __init__(
        self,
        _id: str | None = None,
        *,
        task_id: str | None = None,
        replace_fields: list[str] | tuple[str, ...] | None = None,
        **updates: Any,
    ) -> None:
        if _id is not None and task_id is not None and _id != task_id:
            raise ValueError("TaskUpdateRequest got two different ids (_id and task_id)")
        tid = task_id if task_id is not None else _id
        if not isinstance(tid, str) or not tid:
            raise ValueError("TaskUpdateRequest needs the task id: _id=... or task_id=...")
        unknown = sorted(set(updates) - set(UPDATABLE))
        if unknown:
            raise ValueError(
                f"TaskUpdateRequest cannot set {', '.join(unknown)}; updatable fields: {', '.join(UPDATABLE)}"
            )
        self.task_id = tid
        self.replace_fields = tuple(replace_fields or ())
        self.updates = {k: v for k, v in updates.items() if v is not None}

    @property
    def _id(self) -> str:
        return self.task_id

    def __repr__(self) -> str:
        return f"TaskUpdateRequest(task_id={self.task_id!r}, {self.updates!r}, replace_fields={list(self.replace_fields)!r})"


@dataclass
class TaskSubmitResponse:
    """``submit_task()``: the new task's id."""

    task_id: str
    found: bool = True


@dataclass
class HealthCheckResponse:
    """``health_check()``: ``status`` is "healthy" when the queue folder is readable and writable."""

    status: str
    queue: str


@dataclass
class TaskFetchResponse:
    """What ``fetch_task`` took: ``found`` and the task (None when nothing was pending)."""

    found: bool = False
    task: Task | None = None


@dataclass
class TaskLsResponse:
    """``ls_tasks()``: the tasks found, in ``content``."""

    content: list[Task] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.content)


class WorkerCreateResponse(str):
    """The new worker's id: a ``str`` (as the original's ``create_worker`` returned), with ``.worker_id``."""

    __slots__ = ()

    @property
    def worker_id(self) -> str:
        return str(self)


@dataclass
class WorkerLsResponse:
    """``ls_workers()``: the workers found, in ``content``."""

    content: list[Worker] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.content)


@dataclass
class QueueGetResponse(Queue):
    """``get_queue()``: the queue in use."""
