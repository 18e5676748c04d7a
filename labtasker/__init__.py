"""labtasker: a task queue for ML experiments whose whole state is a directory of YAML files."""

from __future__ import annotations

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
)  # fmt: skip
from labtasker.api_models import Attempt, Task, TaskUpdateRequest
from labtasker.errors import LabtaskerError, LabtaskerRuntimeError, LabtaskerTypeError, LabtaskerValueError
from labtasker.event_listener import EventListener, connect_events
from labtasker.worker.decorator import (
    LoopStopped,
    Required,
    current_task_id,
    current_worker_id,
    get_labtasker_log_dir,
    is_enabled,
    loop,
    task_info,
)

__version__ = "0.1.0"

__all__ = [
    "Attempt",
    "EventListener",
    "LabtaskerError",
    "LabtaskerRuntimeError",
    "LabtaskerTypeError",
    "LabtaskerValueError",
    "LoopStopped",
    "Required",
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
    "submit_task",
    "submit_tasks",
    "task_info",
    "update_queue",
    "update_tasks",
]
