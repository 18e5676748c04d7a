"""Where a call runs: the queue in use, the run in progress, and what a job's process is told.

The API, the loop, events and the CLI ask here instead of reading the
environment themselves. A loop hands its job ``LABTASKER_TASK_ID``,
``LABTASKER_WORKER_ID``, ``LABTASKER_LOG_DIR`` and ``LABTASKER_QUEUE_DIR``
(``job_env``), and this module reads them back in the job (``own_job``,
``task_info``). The project's own variables (``LABTASKER_ROOT``,
``LABTASKER_QUEUE_NAME``, ``LABTASKER_NODE_ID``) belong to ``config``; the
table of every variable and its owner is in docs/architecture.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from labtasker import config
from labtasker.errors import QueueNotFound, UsageError
from labtasker.fsqueue.store import FsQueue
from labtasker.record import Record

if TYPE_CHECKING:
    from labtasker.api_models import Task

TASK_ID = "LABTASKER_TASK_ID"
WORKER_ID = "LABTASKER_WORKER_ID"
LOG_DIR = "LABTASKER_LOG_DIR"
QUEUE_DIR = "LABTASKER_QUEUE_DIR"
ROOT = "LABTASKER_ROOT"
NODE_ID = "LABTASKER_NODE_ID"
TASK_INFO = "task_info.json"  # the task, as a job's subprocess reads it, in the run's log folder

_NO_RUN = "no current run: call this inside @labtasker.loop() or a job of `labtasker loop`"


# ------------------------------------------------------------- the queue in use
class Context(Record):
    """The root, config and queue a call works on."""

    _fields = ("root", "cfg", "queue")
    root: Path | None
    cfg: config.Config | None
    queue: FsQueue

    def __init__(self, root: Path | None, cfg: config.Config | None, queue: FsQueue) -> None:
        self._init(root=root, cfg=cfg, queue=queue)

    @property
    def logs_dir(self) -> Path:
        return (self.root or self.queue.path) / "logs"

    def env(self) -> dict[str, str]:
        """What tells a process elsewhere (another node of a cluster) to use this queue: the same
        root, or the same folder."""
        if self.root is not None:
            return {ROOT: str(self.root.absolute())}
        return {QUEUE_DIR: str(self.queue.path.absolute())}


_queues: dict[tuple[Path, str], FsQueue] = {}


def context(*, create: bool = False, queue_name: str | None = None, read_only: bool = False) -> Context:
    """Resolve the queue in use; with ``create`` make the root and queue if missing.

    A queue without ``tmp/`` (a git clone) gets its local folders on first use,
    unless the caller is ``read_only``: then nothing is written into it.
    """
    root = config.ensure_root() if create else config.find_root()
    if root is not None and not (root / "config.toml").is_file():
        root = None
    cfg = config.load(root) if root is not None else None
    if root is not None and cfg is not None:
        path = cfg.resolved_queue_dir(queue_name)
        node = config.node_id(root)
        name = queue_name or cfg.queue_name
    else:
        env = os.environ.get(QUEUE_DIR)
        path = Path(env).absolute() if env else Path.cwd() / ".labtasker" / "queues" / "default"
        node = os.environ.get(NODE_ID, "local")
        name = queue_name or config.DEFAULT_QUEUE
    key = (path, node)
    queue = _queues.get(key)
    if queue is None:
        queue = _queues[key] = FsQueue(path, node=node)
    if create and not queue.exists():
        FsQueue.create(path, name, node=node)
    elif (
        not read_only and queue.exists() and not queue.tmp.is_dir()
    ):  # a git clone: no tmp/, no empty state dirs
        try:
            FsQueue.create(path, name, node=node)
        except OSError:
            pass  # read-only: fine for reading
    return Context(root, cfg, queue)


def open_queue(queue_dir: str | None, *, read_only: bool = False) -> FsQueue:
    """The queue a folder names (a queue, or a project holding ``.labtasker/``), else the one in use.

    ``read_only``: a queue that writes nothing into its folder (``tui.readonly``),
    for the TUI's ``--read-only`` and for results read from a copy.
    """
    cls: type[FsQueue] = FsQueue
    if read_only:
        from labtasker.tui.readonly import ReadOnlyQueue

        cls = ReadOnlyQueue
    if queue_dir is None:
        found = context(read_only=read_only).queue
        if not found.exists():
            raise QueueNotFound(f"no queue at {found.path}: pass a QUEUE_DIR, or submit a task to create it")
        return cls(found.path, node=found.node)
    path = Path(queue_dir).expanduser().absolute()
    project = path / config.ROOT_NAME / "config.toml"
    if project.is_file():
        cfg = config.load(project.parent)
        return cls(cfg.resolved_queue_dir(), node=config.node_id(project.parent))
    if not path.is_dir():
        raise UsageError(
            f"{queue_dir} is not a directory: pass a queue folder, e.g. .labtasker/queues/default"
        )
    if not (path / "queue.yaml").is_file():
        raise UsageError(
            f"{queue_dir} is not a queue (it has no queue.yaml): pass the folder that holds "
            "pending/ and running/, e.g. .labtasker/queues/default"
        )
    return cls(path, node=node_id())


def node_id() -> str:
    """This machine's node id (from the project in use, if any): it names the files we write."""
    root = config.find_root()
    if root is not None and (root / "config.toml").is_file():
        return config.node_id(root)
    return os.environ.get(NODE_ID) or "local"


# ------------------------------------------------------------- the current run
class CurrentRun(Protocol):
    """What the API reads and sets on the run in progress (``worker.attempt.Run``)."""

    task: Task
    worker_id: str
    log_dir: Path
    ended: bool

    @property
    def queue(self) -> FsQueue: ...

    @property
    def running_name(self) -> str: ...

    @property
    def task_id(self) -> str: ...


_current: CurrentRun | None = None


@contextmanager
def running(run: CurrentRun) -> Iterator[None]:
    """Make ``run`` the current run while a loop's Python function runs."""
    global _current
    _current = run
    try:
        yield
    finally:
        _current = None


def current_run() -> CurrentRun | None:
    """The run of ``@labtasker.loop()`` in progress in this process, else None."""
    return _current


# ----------------------------------------------- a job started by `labtasker loop`
class OwnJob(Record):
    """The run a loop handed to this process through the environment."""

    _fields = ("task_id", "worker_id", "queue_dir")
    task_id: str
    worker_id: str
    queue_dir: Path

    def __init__(self, task_id: str, worker_id: str, queue_dir: Path) -> None:
        self._init(task_id=task_id, worker_id=worker_id, queue_dir=queue_dir)


def job_env(task_id: str, worker_id: str, log_dir: Path, queue_dir: Path) -> dict[str, str]:
    """Variables a job's subprocess gets so that ``task_info()`` and reports work inside it."""
    return {TASK_ID: task_id, WORKER_ID: worker_id, LOG_DIR: str(log_dir), QUEUE_DIR: str(queue_dir)}


def own_job(task_id: str) -> OwnJob | None:
    """The loop's run, if this process is the job a loop started for ``task_id``."""
    worker_id, queue_dir = os.environ.get(WORKER_ID), os.environ.get(QUEUE_DIR)
    if os.environ.get(TASK_ID) != task_id or not worker_id or not queue_dir:
        return None
    return OwnJob(task_id, worker_id, Path(queue_dir))


def write_task_info(log_dir: Path, task: Task, worker_id: str) -> None:
    """Hand the task to a job's subprocess: ``task_info.json`` in the run's log folder, once.

    A loop writes it when a job's subprocess is handed the run (``Run.env``:
    every command of ``labtasker loop``) or a Python job asks for its run's
    folder: a run that does neither costs no file.
    """
    import json

    path = log_dir / TASK_INFO
    if path.exists():
        return
    log_dir.mkdir(parents=True, exist_ok=True)  # a run's folder is made at its first file
    info = dict(vars(task))  # json.dumps copies nothing: no deep copy of the task needed
    info["worker_id"] = worker_id
    path.write_text(json.dumps(info, default=str, indent=2), encoding="utf-8")


def read_task_info(log_dir: str | os.PathLike[str]) -> Task:
    """The Task a loop handed to a subprocess (via ``LABTASKER_LOG_DIR``)."""
    import json

    from labtasker.api_models import Task

    data = json.loads((Path(log_dir) / TASK_INFO).read_text(encoding="utf-8"))
    for key in ("created_at", "last_modified", "start_time", "last_heartbeat"):
        if isinstance(data.get(key), str):
            data[key] = datetime.fromisoformat(data[key])
    data.pop("queue_name", None)
    return Task(**data)


# ------------------------------------------------ the public questions (labtasker.*)
def current_task_id() -> str | None:
    """The id of the task being run (in a loop or a job of `labtasker loop`), else None."""
    if _current is not None:
        return _current.task_id
    return os.environ.get(TASK_ID) or None


def current_worker_id() -> str | None:
    """The id of the worker running the current task, else None."""
    if _current is not None:
        return _current.worker_id
    return os.environ.get(WORKER_ID) or None


def is_enabled() -> bool:
    """True inside a loop or a job of `labtasker loop`."""
    return current_worker_id() is not None


def get_labtasker_log_dir() -> Path:
    """The folder of the current run's ``run.log`` and ``task_info.json``."""
    if _current is not None:
        write_task_info(_current.log_dir, _current.task, _current.worker_id)
        return Path(_current.log_dir)
    log_dir = os.environ.get(LOG_DIR)
    if not log_dir:
        raise RuntimeError(_NO_RUN)
    return Path(log_dir)


def task_info() -> Task:
    """The task being run: inside ``@labtasker.loop()`` or a job started by ``labtasker loop``."""
    if _current is not None:
        return _current.task
    log_dir = os.environ.get(LOG_DIR)
    if log_dir and (Path(log_dir) / TASK_INFO).exists():
        return read_task_info(log_dir)
    raise RuntimeError("task_info() is only available inside @labtasker.loop() or a job of `labtasker loop`")
