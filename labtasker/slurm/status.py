"""``labtasker slurm status``: each submitted array as Slurm sees it and as the queue does.

``ours`` reads the queue (the only I/O here); ``summarize`` is pure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from labtasker.fsqueue import layout
from labtasker.fsqueue.store import FsQueue
from labtasker.slurm.script import WORKER_PREFIX, worker_prefix


@dataclass
class Ours:
    """The queue's side, by worker id: which workers are alive, what each runs and has finished."""

    worker_status: dict[str, str] = field(default_factory=dict)
    running: Counter[str] = field(default_factory=Counter)
    done: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)


def ours(queue: FsQueue) -> Ours:
    """Read what the Slurm workers (ids ``slurm-...``) did, from the queue's files."""
    found = Ours()
    for name in queue.names("workers"):
        if name.startswith(WORKER_PREFIX):
            doc = queue.read("workers", name)
            if doc is not None:
                found.worker_status[str(doc.get("worker_id"))] = str(doc.get("status"))
    for name in queue.names("running"):
        worker = name[: -len(layout.SUFFIX)].split(layout.SEP, 1)[-1]
        if worker.startswith(WORKER_PREFIX):
            found.running[worker] += 1
    for dirname, counter in (("done", found.done), ("failed", found.failed)):
        for _, _, view in queue.iter_views([dirname]):
            owner = view.get("worker_id")
            if isinstance(owner, str) and owner.startswith(WORKER_PREFIX):
                counter[owner] += 1
    return found


def summarize(
    record: Mapping[str, Any],
    squeue_rows: Iterable[Mapping[str, str]],
    sacct_rows: Iterable[Mapping[str, str]],
    found: Ours,
) -> dict[str, Any]:
    """One submitted array: Slurm's states of its elements, and the queue's counts for its workers."""
    job = str(record["job_id"])
    states: Counter[str] = Counter()
    nodes: set[str] = set()
    for row in squeue_rows:
        if row.get("array_job") == job or row.get("job") == job:
            states[row.get("state", "?")] += _elements(row.get("array_task", ""))
            if row.get("node"):
                nodes.add(row["node"])
    if not states:  # gone from squeue: accounting, if any, knows how it ended
        for row in sacct_rows:
            if row.get("job", "").split("_", 1)[0] == job:
                states[row.get("state", "?").split()[0]] += _elements(row["job"].partition("_")[2])
    prefix = worker_prefix(job)

    def total(counter: Mapping[str, int]) -> int:
        return sum(n for w, n in counter.items() if w.startswith(prefix))

    mine = {w: s for w, s in found.worker_status.items() if w.startswith(prefix)}
    nodes.update(
        w.split(".", 1)[1] for w in mine if "." in w
    )  # where workers ran, also once Slurm forgot the job
    return {
        "job_id": job,
        "submitted_at": record.get("submitted_at"),
        "workers": record.get("workers"),
        "command": record.get("command"),
        "slurm": dict(sorted(states.items())),
        "nodes": sorted(nodes),
        "workers_seen": len(mine),
        "workers_alive": sum(1 for s in mine.values() if s == "active"),
        "running": total(found.running),
        "done": total(found.done),
        "failed": total(found.failed),
        "folder": record.get("folder"),
    }


def slurm_text(states: Mapping[str, int]) -> str:
    """``2 RUNNING, 1 PENDING``; ``-`` when Slurm no longer knows the job."""
    return ", ".join(f"{n} {s}" for s, n in states.items()) or "-"


def _elements(index: str) -> int:
    """How many array elements an index field stands for: ``3``, ``[4-7%2]``, ``[1,3-5]``, or none."""
    text = index.strip().strip("[]").split("%", 1)[0]
    if not text or text in ("N/A", "(null)"):
        return 1
    count = 0
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        try:
            count += int(hi) - int(lo) + 1 if hi else 1
        except ValueError:
            count += 1
    return count
