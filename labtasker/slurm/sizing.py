"""``--workers auto``: how many pending tasks a command could run (its placeholders, its filter)."""

from __future__ import annotations

from datetime import datetime

from labtasker.fsqueue import claim
from labtasker.fsqueue.store import FsQueue
from labtasker.worker import required as req


def runnable(queue: FsQueue, fields: list[str], extra_filter: str | None, now: datetime) -> int:
    """Pending tasks whose args fill exactly the command's placeholders (any args when it has
    none) and that match ``extra_filter``; tasks reserved for other nodes are not counted."""
    if not queue.exists():
        return 0
    tree = req.build_tree(fields)
    predicate = None
    if extra_filter:
        from labtasker.filters import language as flt

        predicate = flt.compile(extra_filter, now=now)
    mine = set(claim.claim_order(queue.names("pending"), queue.node))
    count = 0
    for _, name, view in queue.iter_views(["pending"]):
        if name not in mine or not req.matches(view.get("args"), tree, allow_extra=not fields):
            continue
        if predicate is None or predicate(dict(view)):
            count += 1
    return count
