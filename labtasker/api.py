"""The Python API of the usage document, thin over ``labtasker.fsqueue``.

Each call finds the queue in use (``$LABTASKER_QUEUE_DIR``, the nearest
``.labtasker/``, or one created on the first write) and works on its files.
"""

from __future__ import annotations

import copy
import heapq
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labtasker import config
from labtasker.errors import LeaseLost, QueueExists, QueueNotFound, WorkerCrashed
from labtasker.fsqueue import layout  # the rest where used: `task ls -q` needs none of it
from labtasker.fsqueue.layout import STATE_DIRS, TaskStatus
from labtasker.fsqueue.store import FsQueue
from labtasker.fsqueue.table import gc_paused
from labtasker.run_context import Context as Context  # the queue in use, for the CLI too
from labtasker.run_context import context as context
from labtasker.run_context import current_run, own_job, task_info

if TYPE_CHECKING:  # the loop machinery loads only for loops; the models when a call returns one
    from datetime import datetime

    from labtasker.api_models import (
        Attempt,
        HealthCheckResponse,
        Queue,
        Task,
        TaskFetchResponse,
        TaskLsResponse,
        TaskSubmitResponse,
        TaskUpdateRequest,
        WorkerCreateResponse,
        WorkerLsResponse,
    )
    from labtasker.fsqueue import tasks
    from labtasker.worker import required as req
    from labtasker.worker import runner


_MODELS = (
    "Attempt", "HealthCheckResponse", "Queue", "Task", "TaskFetchResponse", "TaskLsResponse",
    "TaskSubmitResponse", "TaskUpdateRequest", "Worker", "WorkerCreateResponse", "WorkerLsResponse",
)  # fmt: skip


def __getattr__(name: str) -> Any:
    """``api.Task`` and the other models, imported on first use: their dataclasses cost a
    command about 5 ms to build, and ``task ls -q`` or ``task submit`` makes none."""
    if name in _MODELS:
        from labtasker import api_models

        return getattr(api_models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _reader() -> FsQueue | None:
    """The queue to read from, or None when there is none yet (nothing to list)."""
    queue = context().queue
    return queue if queue.exists() else None


# ------------------------------------------------------------------- tasks
def submit_task(
    task_name: str | None = None,
    args: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    cmd: Any = None,
    heartbeat_timeout: float | None = None,
    task_timeout: float | str | None = None,
    max_retries: int = 3,
    priority: int = 0,
) -> TaskSubmitResponse:
    """Add one pending task; dotted keys in args/metadata nest (``{"a.b": 1}``)."""
    from labtasker.api_models import TaskSubmitResponse

    task_id = submit_task_id(
        task_name=task_name,
        args=args,
        metadata=metadata,
        cmd=cmd,
        heartbeat_timeout=heartbeat_timeout,
        task_timeout=task_timeout,
        max_retries=max_retries,
        priority=priority,
    )
    return TaskSubmitResponse(task_id=task_id)


def submit_task_id(
    task_name: str | None = None,
    args: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    cmd: Any = None,
    heartbeat_timeout: float | None = None,
    task_timeout: float | str | None = None,
    max_retries: int = 3,
    priority: int = 0,
) -> str:
    """``submit_task`` for ``task submit``: the new task's id, without the response object."""
    from labtasker.fsqueue import tasks

    fields = dict(
        task_name=task_name,
        args=args,
        metadata=metadata,
        cmd=cmd,
        priority=priority,
        max_retries=max_retries,
        heartbeat_timeout=heartbeat_timeout,
        task_timeout=_seconds(task_timeout, "task_timeout"),
    )
    from labtasker.fsqueue import documents as model

    model.new_task(task_id="check", now=_now(), node="check", **fields)  # validate before any write
    doc = tasks.submit(context(create=True).queue, **fields)
    return str(doc["task_id"])


def _seconds(value: Any, name: str) -> float | None:
    """A duration argument (``"1h"``, 3600), or ValueError naming the argument."""
    from labtasker.fsqueue import durations

    try:
        return durations.parse(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def submit_tasks(batch: list[dict[str, Any]], *, again: bool = False) -> list[str]:
    """Submit many tasks at once (each a dict of ``submit_task`` arguments); returns their ids.

    Resumable: the ids come from the batch's content, so calling it again with
    the same batch after a crash submits only the tasks that did not get in.
    ``again=True`` submits the same batch anew, as new tasks.
    """
    return submit_batch(batch, again=again).ids


def submit_batch(batch: list[dict[str, Any]], *, again: bool = False) -> tasks.Batch:
    """``submit_tasks``, also saying how many tasks of the batch were in the queue already."""
    from labtasker.fsqueue import tasks

    return tasks.submit_batch(context(create=True).queue, batch, again=again)


def ls_tasks(
    task_id: str | None = None,
    task_name: str | None = None,
    status: str | None = None,
    extra_filter: str | dict[str, Any] | None = None,
    limit: int | None = 100,
    offset: int = 0,
    sort: list[Any] | None = None,
) -> TaskLsResponse:
    """Tasks matching every given condition, in claim order unless ``sort`` says otherwise."""
    from labtasker.api_models import Task, TaskLsResponse

    found = _ls_docs(task_id, task_name, status, extra_filter, limit, offset, sort)
    if found is None or not found[1]:
        return TaskLsResponse([])
    queue, window = found
    name = queue.info().get("queue_name")
    return TaskLsResponse([Task.from_doc(_plain(d), name) for d in window])


def ls_task_ids(
    task_id: str | None = None,
    task_name: str | None = None,
    status: str | None = None,
    extra_filter: str | dict[str, Any] | None = None,
    limit: int | None = 100,
    offset: int = 0,
    sort: list[Any] | None = None,
) -> list[str]:
    """The ids of the tasks ``ls_tasks`` would give (``task ls -q``), without making the tasks."""
    found = _ls_docs(task_id, task_name, status, extra_filter, limit, offset, sort)
    return [] if found is None else [str(d["task_id"]) for d in found[1]]


def _ls_docs(
    task_id: str | None,
    task_name: str | None,
    status: str | None,
    extra_filter: str | dict[str, Any] | None,
    limit: int | None,
    offset: int,
    sort: list[Any] | None,
) -> tuple[FsQueue, list[Mapping[str, Any]]] | None:
    """The queue and the window of matching documents (read-only views), or None without a queue."""
    predicate = _compile(extra_filter)
    spec = None
    if sort:
        from labtasker.filters import sorting

        spec = sorting.parse_sort(sort)
    dirnames = [layout.parse_status(status).dirname] if status else list(STATE_DIRS.values())
    queue = _reader()
    if queue is None:
        return None
    docs: list[Mapping[str, Any]] = []
    with gc_paused():  # 10^5 views and their keys make no cycles: full collections would find nothing
        for _, _, doc in queue.iter_views(dirnames):  # read-only views: only filtered fields are decoded
            if task_id is not None and doc["task_id"] != task_id:
                continue
            if task_name is not None and doc.get("task_name") != task_name:
                continue
            if predicate is not None and not predicate(doc):
                continue
            docs.append(doc)
        if spec is not None:
            docs = sorting.sort_docs(docs, spec)
        else:
            keys = _claim_keys(docs)
            keyed = zip(keys, range(len(keys)), strict=True)  # the place breaks ties, as a stable sort
            if limit is not None and offset + limit < len(docs) // 8:  # the head of 10^5: no full sort
                order = heapq.nsmallest(offset + limit, keyed)
            else:
                order = sorted(keyed)
            docs = [docs[place] for _, place in order]
    window = docs[offset : offset + limit] if limit is not None else docs[offset:]
    return queue, window


def _plain(doc: Any) -> dict[str, Any]:
    return doc if isinstance(doc, dict) else doc.to_dict()


def _claim_keys(docs: list[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """Each document's place in claim order: priority first, then the oldest change, then age."""
    from labtasker.fsqueue.table import fields_of

    priority, changed, created, task_id = fields_of(
        docs, ("priority", "last_modified", "created_at", "task_id")
    )
    return [
        (-int(p or 0), _ts(c), _ts(a), i)
        for p, c, a, i in zip(priority, changed, created, task_id, strict=True)
    ]


def _ts(value: Any) -> float:
    try:
        return float(value.timestamp())
    except AttributeError:
        return float("inf")


def get_task(task_id: str) -> Task:
    """One task by id (raises TaskNotFound)."""
    from labtasker.api_models import Task
    from labtasker.fsqueue import tasks

    queue = context().queue
    return Task.from_doc(tasks.locate(queue, task_id).doc)


def ls_attempts(task_id: str | None = None, limit: int = 100, offset: int = 0) -> list[Attempt]:
    """Runs that lost their task (late results, merged duplicates, replaced results), oldest first."""
    from labtasker.api_models import Attempt
    from labtasker.fsqueue import attempts

    queue = _reader()
    found = attempts.read(queue, task_id) if queue is not None else []
    return [Attempt.from_doc(name, doc) for name, doc in found[offset : offset + limit]]


def update_tasks(task_updates: list[TaskUpdateRequest], reset_pending: bool = False) -> TaskLsResponse:
    """Apply edits; dict fields merge unless named in ``replace_fields``."""
    from labtasker.api_models import Task, TaskLsResponse
    from labtasker.fsqueue import tasks

    queue = context().queue
    now = _now()
    out = []
    for request in task_updates:
        doc = tasks.update(
            queue,
            request.task_id,
            request.updates,
            replace_fields=request.replace_fields,
            reset_pending=reset_pending,
            now=now,
        )
        out.append(Task.from_doc(doc))
    return TaskLsResponse(out)


def delete_task(task_id: str) -> None:
    """Delete a task (a tombstone keeps replicas from bringing it back)."""
    from labtasker.fsqueue import tasks

    tasks.delete(context().queue, task_id)


def report_task_status(
    task_id: str, status: str, summary: dict[str, Any] | None = None, worker_id: str | None = None
) -> None:
    """Record a status and merge ``summary`` into the task's summary.

    Inside the loop, for the task being run: ``running`` writes metrics,
    ``cancelled``/``success``/``failed`` end the run (the loop keeps that status).
    Elsewhere: the task's current status only merges the summary; another
    status is a change through the state machine.
    """
    from labtasker.api_models import Task
    from labtasker.fsqueue import attempts, tasks, transitions, versions, workers

    new = layout.parse_status(status)
    run = current_run()
    if run is not None and run.task_id == task_id and worker_id not in (None, run.worker_id):
        raise LeaseLost(
            f"task {task_id} is run by worker {run.worker_id}, not {worker_id}; nothing was written"
        )
    if run is not None and run.task_id == task_id:
        located = tasks.finish(
            run.queue,
            run.running_name,
            new,
            summary=summary,
            error=_REPORTED_FAILED if new == TaskStatus.FAILED else None,
        )
        run.task = Task.from_doc(located.doc)
        run.ended = new != TaskStatus.RUNNING
        return
    job = own_job(task_id)
    if job is not None:  # a job started by `labtasker loop` reports on its own run
        if worker_id is not None and str(worker_id) != job.worker_id:
            raise LeaseLost(
                f"task {task_id} is run by worker {job.worker_id}, not {worker_id}; nothing was written"
            )
        queue = FsQueue(job.queue_dir, node=context().queue.node)
        name = layout.running_name(task_id, job.worker_id)
        try:
            tasks.request_status(queue, name, new, summary)
        except FileNotFoundError:
            raise LeaseLost(
                f"task {task_id} is no longer run by this job's loop "
                "(cancelled, reclaimed or deleted); nothing was written"
            ) from None
        return
    queue = context().queue
    now = _now()
    failed_worker = []

    def change(doc: dict[str, Any]) -> tuple[TaskStatus, dict[str, Any]]:
        old = layout.parse_status(doc["status"])
        owner = doc.get("worker_id")
        if old == TaskStatus.RUNNING and worker_id is not None and owner and owner != worker_id:
            raise LeaseLost(  # fencing: only the worker running a task reports on it
                f"task {task_id} is run by worker {owner}, not {worker_id}; nothing was written"
            )
        if old == TaskStatus.RUNNING and new == TaskStatus.FAILED:
            if owner:
                failed_worker.append(owner)
            running = copy.deepcopy(doc)
            status, retried = transitions.fail(doc, _REPORTED_FAILED, now, summary)
            if status == TaskStatus.PENDING:  # the failed run is history: kept, as tasks.finish keeps it
                attempts.keep_failed(queue, running, retried)
            return status, retried
        before = dict(doc, summary=dict(doc.get("summary") or {}))
        transitions.merge_summary(doc, summary)
        if new != old:
            transitions.check_transition(task_id, old, new)
        doc["last_modified"] = now
        versions.bump_gen(doc, status_change=new != old)
        if new != old and old in layout.TERMINAL:
            attempts.keep_replaced(queue, before)
        return new, doc

    tasks.change_task(queue, task_id, change)
    for owner in failed_worker:  # a failure counts against the worker that ran the task
        try:
            workers.record_failure(queue, owner)
        except KeyError:
            pass  # the worker was deleted


_REPORTED_FAILED = {"type": "ReportedFailed", "message": "the job reported failed"}  # see error_record


def finish(status: str = "success", summary: dict[str, Any] | None = None) -> None:
    """End the current loop task with ``status`` (inside ``@labtasker.loop()`` only)."""
    report_task_status(task_info().task_id, status, summary)


def fetch_task(
    worker_id: str | None = None,
    eta_max: str | float | None = None,
    heartbeat_timeout: float | None = None,
    start_heartbeat: bool = True,
    required_fields: list[str] | None = None,
    extra_filter: str | dict[str, Any] | None = None,
    cmd: Any = None,
) -> TaskFetchResponse:
    """Take the first matching pending task for a worker and mark it running (no loop).

    ``required_fields`` are the args it must have, no more, no less (``"*"`` or
    None: any). With ``start_heartbeat`` a background thread renews the lease
    until the task leaves ``running/`` (report its end with ``report_task_status``);
    without it, the task is reclaimed after ``heartbeat_timeout``. ``cmd`` is
    accepted for compatibility and not used.
    """
    from labtasker.api_models import Task, TaskFetchResponse
    from labtasker.fsqueue import claim, clock, durations, lease, locking, workers
    from labtasker.worker import required as req
    from labtasker.worker.lease_keeper import LeaseKeeper

    ctx = context(create=True)
    queue = ctx.queue
    predicate = _compile(extra_filter)
    fields = [f for f in (required_fields or []) if f != "*"]
    any_args = not required_fields or "*" in required_fields
    tree = req.build_tree(fields)
    interval = ctx.cfg.setting("heartbeat_interval") if ctx.cfg else 30.0
    timeout = heartbeat_timeout or (ctx.cfg.setting("heartbeat_timeout") if ctx.cfg else None)
    terms = lease.make_terms(interval, timeout, durations.parse(eta_max))
    worker_id = _fetch_worker(queue) if worker_id is None else str(worker_id)  # a plain str for YAML
    status = workers.get(queue, worker_id).get("status")  # WorkerNotFound for an unknown id
    if status in ("crashed", "suspended"):
        raise WorkerCrashed(
            f"worker {worker_id} is {status} and takes no tasks; "
            f"reactivate it with `labtasker worker report {worker_id} active`"
        )

    def accept(doc: dict[str, Any]) -> bool:
        return req.matches(doc.get("args"), tree, allow_extra=any_args) and (
            predicate is None or predicate(doc)
        )

    claimer = claim.Claimer(queue, worker_id, accept)
    # No liveness lock: this process may keep the task long after the call, so only
    # the heartbeat (the file's mtime) says it is alive.
    claimer.fields = {
        "lease": lease.lease_info(terms, host=locking.host_key(), lock=None, skew=0.0, node=queue.node)
    }
    got = claimer.claim(clock.now())
    if got is None:
        return TaskFetchResponse(found=False)
    if start_heartbeat:
        LeaseKeeper(queue, got.name, terms.interval, terms.give_up_after, eta=terms.eta).__enter__()
    return TaskFetchResponse(found=True, task=Task.from_doc(got.doc))


def refresh_task_heartbeat(task_id: str, worker_id: str | None = None) -> None:
    """Renew the lease of a running task (one taken with ``fetch_task(start_heartbeat=False)``).

    LeaseLost if the task is not running (for ``worker_id``, when given).
    """
    from labtasker.fsqueue import tasks

    queue = context().queue
    prefix = f"{task_id}{layout.SEP}"
    names = [n for n in queue.names("running") if n.startswith(prefix)]
    if worker_id is not None:
        names = [n for n in names if n == layout.running_name(task_id, str(worker_id))]
    if not names or not tasks.heartbeat(queue, names[0]):
        owner = f" by worker {worker_id}" if worker_id else ""
        raise LeaseLost(f"task {task_id} is not running{owner}; nothing to renew")


def health_check() -> HealthCheckResponse:
    """``status`` "healthy" when the queue folder can be read and written (there is no server to ask)."""
    from labtasker.api_models import HealthCheckResponse

    queue = context().queue
    ok = queue.exists() and os.access(queue.path, os.R_OK | os.W_OK | os.X_OK)
    return HealthCheckResponse(status="healthy" if ok else "unhealthy", queue=str(queue.path))


_fetch_workers: dict[Path, str] = {}


def _fetch_worker(queue: FsQueue) -> str:
    """One worker per process and queue for ``fetch_task`` calls that name none."""
    from labtasker.fsqueue import workers

    wid = _fetch_workers.get(queue.path)
    if wid is None or queue.read("workers", f"{wid}.yaml") is None:
        wid = _fetch_workers[queue.path] = workers.create(queue)["worker_id"]
    return wid


# ------------------------------------------------------------------- workers
def create_worker(
    worker_name: str | None = None, metadata: dict[str, Any] | None = None, max_retries: int = 3
) -> WorkerCreateResponse:
    from labtasker.api_models import WorkerCreateResponse
    from labtasker.fsqueue import workers

    doc = workers.create(
        context(create=True).queue, worker_name=worker_name, metadata=metadata, max_retries=max_retries
    )
    return WorkerCreateResponse(doc["worker_id"])


def ls_workers(
    worker_id: str | None = None,
    worker_name: str | None = None,
    status: str | None = None,
    extra_filter: str | dict[str, Any] | None = None,
    limit: int = 100,
    offset: int = 0,
    sort: list[Any] | None = None,
) -> WorkerLsResponse:
    """Workers matching every given condition (``extra_filter`` over worker fields), oldest first
    unless ``sort`` (as for ``ls_tasks``, over worker fields) says otherwise."""
    from labtasker.api_models import Worker, WorkerLsResponse
    from labtasker.filters import language as flt
    from labtasker.filters import sorting

    predicate = flt.compile(extra_filter, now=_now(), fields=flt.WORKER_FIELDS) if extra_filter else None
    spec = sorting.parse_sort(sort, fields=flt.WORKER_FIELDS) if sort else None
    queue = _reader()
    if queue is None:
        return WorkerLsResponse([])
    found = []
    for located in queue.iter_docs(["workers"]):
        d = located.doc
        if worker_id and d.get("worker_id") != worker_id:
            continue
        if worker_name and d.get("worker_name") != worker_name:
            continue
        if status and d.get("status") != status:
            continue
        if predicate is not None and not predicate(d):
            continue
        found.append(d)
    found.sort(key=lambda d: (_ts(d.get("created_at")), d["worker_id"]))
    if spec is not None:
        found = sorting.sort_docs(found, spec)
    return WorkerLsResponse([Worker.from_doc(d) for d in found[offset : offset + limit]])


def report_worker_status(worker_id: str, status: str) -> None:
    from labtasker.fsqueue import workers

    workers.set_status(context().queue, worker_id, status)


def delete_worker(worker_id: str, cascade_update: bool = True) -> None:
    """Delete a worker's file; its tasks keep their ``worker_id`` as a record (``cascade_update`` is accepted)."""
    from labtasker.fsqueue import workers

    workers.delete(context().queue, worker_id)


# ------------------------------------------------------------------- queues
def create_queue(
    queue_name: str | None = None, password: str | None = None, metadata: dict[str, Any] | None = None
) -> Queue:
    """Create a queue (``password`` is accepted for compatibility; files need none)."""
    if queue_name is not None:
        config.check_queue_name(queue_name)  # before anything is created
    ctx = context(create=True)
    name = queue_name or (ctx.cfg.queue_name if ctx.cfg else config.DEFAULT_QUEUE)
    path = ctx.cfg.resolved_queue_dir(name) if ctx.cfg and queue_name else ctx.queue.path
    if (path / "queue.yaml").exists() and queue_name is not None and ctx.queue.path != path:
        raise QueueExists(f"queue {name!r} already exists at {path}")
    queue = FsQueue.create(path, name, node=ctx.queue.node, metadata=metadata)
    return _queue_model(queue)


def get_queue(queue_name: str | None = None) -> Queue:
    queue = context(queue_name=queue_name).queue
    if not queue.exists():
        raise QueueNotFound(f"no queue at {queue.path}; create it with `labtasker queue create`")
    return _queue_model(queue)


def update_queue(
    new_queue_name: str | None = None,
    new_password: str | None = None,
    metadata_update: dict[str, Any] | None = None,
) -> Queue:
    queue = context().queue
    if not queue.exists():
        raise QueueNotFound(f"no queue at {queue.path}")
    info = queue.info()
    if new_queue_name is not None:
        info["queue_name"] = config.check_queue_name(new_queue_name, "new queue name")
    if metadata_update is not None and not metadata_update:
        info["metadata"] = {}  # an empty update empties it, as in the original
    elif metadata_update:
        info["metadata"] = {**(info.get("metadata") or {}), **metadata_update}
    queue.write_info(info)
    return _queue_model(queue)


def delete_queue(queue_name: str | None = None, cascade_delete: bool = True) -> None:
    """Delete a queue directory and everything in it."""
    if queue_name is not None:
        config.check_queue_name(queue_name)
    queue = context(queue_name=queue_name).queue
    if not queue.exists():
        raise QueueNotFound(f"no queue at {queue.path}")
    import shutil

    shutil.rmtree(queue.path)


def ls_queues() -> list[Queue]:
    """The queues under the root's ``queues/`` (and the configured one)."""
    ctx = context()
    seen = {}
    if ctx.root is not None:
        for path in sorted((ctx.root / "queues").glob("*/queue.yaml")):
            seen[path.parent] = FsQueue(path.parent, node=ctx.queue.node)
    if ctx.queue.exists():
        seen[ctx.queue.path] = ctx.queue
    return [_queue_model(q) for q in seen.values()]


def _queue_model(queue: FsQueue) -> Queue:
    from labtasker.api_models import Queue

    info = queue.info()
    return Queue(
        queue_name=info.get("queue_name", queue.path.name),
        path=str(queue.path),
        created_at=info.get("created_at"),
        metadata=info.get("metadata") or {},
        counts=queue.count(),
    )


# ------------------------------------------------------------------- loop
def run_loop(
    job: Any,
    tree: req.Tree,
    *,
    allow_extra: bool = False,
    extra_filter: str | dict[str, Any] | None = None,
    eta_max: Any = None,
    heartbeat_timeout: float | None = None,
    worker_id: str | None = None,
    create_worker_kwargs: dict[str, Any] | None = None,
    max_tasks: int | None = None,
    report: Any = None,
    wait: bool = False,
    heartbeat_interval: float | None = None,
    grace: str | float | None = None,
    count_interrupts: bool = False,
    retry_backoff: str | float | None = None,
    deadline: datetime | None = None,
) -> runner.Tally:
    """Run ``job`` over matching pending tasks of the queue in use.

    Settings not given here come from ``[loop]`` of ``config.toml``; with
    ``wait`` the loop waits for new tasks instead of returning when none is left.
    With a ``deadline`` (inside a Slurm job: the job's time limit, found by
    itself) the loop takes no task whose eta_max and grace would run past it.
    """
    from labtasker.fsqueue import durations, transitions
    from labtasker.worker import required as req
    from labtasker.worker import runner

    ctx = context(create=True)
    predicate = _compile(extra_filter)
    worker_id = None if worker_id is None else str(worker_id)  # create_worker's id is a str subclass

    def setting(given: Any, name: str, default: Any) -> Any:
        if given is not None:
            return given
        value = ctx.cfg.setting(name) if ctx.cfg else None
        return default if value is None else value

    loop_eta = durations.parse(setting(eta_max, "eta_max", None))
    loop_grace = _loop_seconds(setting(grace, "grace", runner.DEFAULT_GRACE))
    fits = _fits_before(deadline or _slurm_job_end(), loop_eta, loop_grace, report)

    def accept(doc: dict[str, Any]) -> bool:
        return (
            req.matches(doc.get("args"), tree, allow_extra=allow_extra)
            and (predicate is None or predicate(doc))
            and (fits is None or fits(doc))
        )

    opts = runner.LoopOptions(
        accept=accept,
        worker_id=worker_id,
        create_worker_kwargs=create_worker_kwargs or {},
        eta_max=loop_eta,
        heartbeat_interval=float(heartbeat_interval or setting(None, "heartbeat_interval", 30.0)),
        heartbeat_timeout=heartbeat_timeout or setting(None, "heartbeat_timeout", None),
        max_tasks=max_tasks,
        logs_dir=ctx.logs_dir,
        wait=wait,
        grace=loop_grace,
        count_interrupts=count_interrupts,
        retry_backoff=_loop_seconds(setting(retry_backoff, "retry_backoff", transitions.RETRY_BACKOFF)),
    )
    return runner.run_loop(ctx.queue, job, opts, report)


def _slurm_job_end() -> datetime | None:
    """The time limit of the Slurm job this process runs in (None outside Slurm, or without one)."""
    if not os.environ.get("SLURM_JOB_ID"):
        return None
    from labtasker.slurm import commands, timelimit

    return timelimit.job_end(os.environ, _now(), commands.time_left)


def _fits_before(end: datetime | None, loop_eta: float | None, grace: float, report: Any) -> Any:
    """A check that a task's run ends before ``end`` (None: no end); a task left out is said once."""
    if end is None:
        return None
    from labtasker.fsqueue import durations as dur
    from labtasker.slurm import timelimit

    told: set[str] = set()

    def fits(doc: dict[str, Any]) -> bool:
        now = _now()
        if timelimit.fits(doc, loop_eta, grace, end, now):
            return True
        task_id = str(doc.get("task_id"))
        if report is not None and task_id not in told:
            told.add(task_id)
            length = timelimit.expected_length(doc, loop_eta) or 0.0
            left = max(0.0, (end - now).total_seconds())
            report.line(
                f"task {task_id} left for another worker: its eta_max ({dur.human(length)}) "
                f"does not fit in the {dur.human(left)} before this job's time limit"
            )
        return False

    return fits


def _loop_seconds(value: Any) -> float:
    """A loop's duration setting where 0 means none."""
    from labtasker.fsqueue import durations

    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0:
        return 0.0
    return float(durations.parse(value) or 0.0)


def _compile(extra_filter: str | dict[str, Any] | None) -> Any:
    """A predicate for a filter expression, or None for no filter."""
    if not extra_filter:
        return None
    from labtasker.filters import language as flt

    return flt.compile(extra_filter, now=_now())


def _now() -> Any:
    from labtasker.fsqueue import clock

    return clock.now()


__all__ = [
    "Task",
    "TaskUpdateRequest",
    "create_queue",
    "create_worker",
    "delete_queue",
    "delete_task",
    "delete_worker",
    "fetch_task",
    "finish",
    "get_queue",
    "get_task",
    "health_check",
    "ls_queues",
    "ls_tasks",
    "ls_workers",
    "refresh_task_heartbeat",
    "report_task_status",
    "report_worker_status",
    "submit_task",
    "submit_tasks",
    "update_queue",
    "update_tasks",
]
