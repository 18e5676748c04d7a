"""labtasker: a task queue for ML experiments whose whole state is a directory of YAML files.

The public API is loaded when first used (PEP 562), so ``import labtasker``
and every ``labtasker`` command start without importing the parts they do
not need; ``from labtasker import ls_tasks`` works as with eager imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Each public name and the module that defines it.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "labtasker.api": (
        "create_queue", "create_worker", "delete_queue", "delete_task", "delete_worker", "fetch_task",
        "finish", "get_queue", "get_task", "health_check", "ls_attempts", "ls_queues", "ls_tasks",
        "ls_workers", "refresh_task_heartbeat", "report_task_status", "report_worker_status",
        "submit_task", "submit_tasks", "update_queue", "update_tasks",
    ),
    "labtasker.api_models": ("Attempt", "Task", "TaskUpdateRequest"),
    "labtasker.errors": ("LabtaskerError", "LabtaskerRuntimeError", "LabtaskerTypeError", "LabtaskerValueError"),
    "labtasker.event_listener": ("EventListener", "connect_events"),
    "labtasker.run_context": (
        "current_task_id", "current_worker_id", "get_labtasker_log_dir", "is_enabled", "task_info",
    ),
    "labtasker.sweep.rows": ("Results", "results"),
    "labtasker.worker.decorator": ("LoopStopped", "Required", "loop"),
}  # fmt: skip
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "Attempt",
    "EventListener",
    "LabtaskerError",
    "LabtaskerRuntimeError",
    "LabtaskerTypeError",
    "LabtaskerValueError",
    "LoopStopped",
    "Required",
    "Results",
    "Task",
    "TaskUpdateRequest",
    "__version__",
    "connect_events",
    "create_queue",
    "create_worker",
    "current_task_id",
    "current_worker_id",
    "delete_queue",
    "delete_task",
    "delete_worker",
    "fetch_task",
    "finish",
    "get_labtasker_log_dir",
    "get_queue",
    "get_task",
    "health_check",
    "is_enabled",
    "loop",
    "ls_attempts",
    "ls_queues",
    "ls_tasks",
    "ls_workers",
    "refresh_task_heartbeat",
    "report_task_status",
    "report_worker_status",
    "results",
    "submit_task",
    "submit_tasks",
    "task_info",
    "update_queue",
    "update_tasks",
]  # checked against _EXPORTS by the tests


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'labtasker' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})


if TYPE_CHECKING:  # what type checkers and editors see
    from labtasker.api import (
        create_queue,
        create_worker,
        delete_queue,
        delete_task,
        delete_worker,
        fetch_task,
        finish,
        get_queue,
        get_task,
        health_check,
        ls_attempts,
        ls_queues,
        ls_tasks,
        ls_workers,
        refresh_task_heartbeat,
        report_task_status,
        report_worker_status,
        submit_task,
        submit_tasks,
        update_queue,
        update_tasks,
    )
    from labtasker.api_models import Attempt, Task, TaskUpdateRequest
    from labtasker.errors import (
        LabtaskerError,
        LabtaskerRuntimeError,
        LabtaskerTypeError,
        LabtaskerValueError,
    )
    from labtasker.event_listener import EventListener, connect_events
    from labtasker.run_context import (
        current_task_id,
        current_worker_id,
        get_labtasker_log_dir,
        is_enabled,
        task_info,
    )
    from labtasker.sweep.rows import Results, results
    from labtasker.worker.decorator import LoopStopped, Required, loop
