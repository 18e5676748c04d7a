"""labtasker: a task queue for ML experiments whose whole state is a directory of YAML files."""

from __future__ import annotations

from labtasker.api import (
    create_queue,
    create_worker,
    delete_queue,
    delete_task,
    delete_worker,
    finish,
    get_queue,
    get_task,
    ls_attempts,
    ls_queues,
    ls_tasks,
    ls_workers,
    report_task_status,
    report_worker_status,
    submit_task,
    submit_tasks,
    update_queue,
    update_tasks,
)  # fmt: skip
from labtasker.api_models import Attempt, Task, TaskUpdateRequest
from labtasker.errors import LabtaskerError
from labtasker.loop import LoopStopped, Required, loop, task_info

__version__ = "0.1.0"

__all__ = [
    "Attempt",
    "LabtaskerError",
    "LoopStopped",
    "Required",
    "Task",
    "TaskUpdateRequest",
    "__version__",
    "create_queue",
    "create_worker",
    "delete_queue",
    "delete_task",
    "delete_worker",
    "finish",
    "get_queue",
    "get_task",
    "loop",
    "ls_attempts",
    "ls_queues",
    "ls_tasks",
    "ls_workers",
    "report_task_status",
    "report_worker_status",
    "submit_task",
    "submit_tasks",
    "task_info",
    "update_queue",
    "update_tasks",
]
