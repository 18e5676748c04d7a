"""Setting pending tasks aside for one node, so it can run them while disconnected.

A reservation is a user's edit of a pending task (``reserved_for: <node>``,
merged like any edited field). The file name starts ``r.<node>.`` so loops
tell reserved tasks apart from the listing alone: the named node claims its
own first, every other node leaves them alone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from labtasker.fsqueue import clock, ids, layout, versions
from labtasker.fsqueue.store import Doc, FsQueue

Accept = Callable[[Doc], bool]


class _Skip(Exception):
    """The held task is not one to change after all (reserved meanwhile)."""


def reserve(
    queue: FsQueue,
    node: str,
    *,
    accept: Accept | None = None,
    limit: int | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Reserve unreserved pending tasks for ``node``, in claim order; return their ids."""
    ids.check_id(node, "node id")
    names = [n for n in queue.names("pending") if not n.startswith(layout.RESERVED)]
    return _change_each(queue, names, accept, limit, lambda d: d.get("reserved_for") is None, node, now)


def release(
    queue: FsQueue,
    node: str | None = None,
    *,
    accept: Accept | None = None,
    limit: int | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Give tasks reserved for ``node`` (any node if None) back to every node; return their ids."""
    names = [
        n
        for n in queue.names("pending")
        if layout.reserved_for(n) is not None and node in (None, layout.reserved_for(n))
    ]
    return _change_each(
        queue,
        names,
        accept,
        limit,
        lambda d: d.get("reserved_for") is not None and node in (None, d["reserved_for"]),
        None,
        now,
    )


def _change_each(
    queue: FsQueue,
    names: list[str],
    accept: Accept | None,
    limit: int | None,
    wanted: Callable[[Doc], bool],
    value: str | None,
    now: datetime | None,
) -> list[str]:
    done: list[str] = []
    for name in names:
        if limit is not None and len(done) >= limit:
            break
        doc = queue.read("pending", name)
        if doc is None or (accept is not None and not accept(doc)):
            continue
        try:
            located = queue.transact("pending", name, _setter(queue, wanted, value, now))
        except (FileNotFoundError, _Skip):
            continue  # claimed or changed meanwhile: not ours to set aside
        assert located is not None
        done.append(located.doc["task_id"])
    return done


def _setter(
    queue: FsQueue, wanted: Callable[[Doc], bool], value: str | None, now: datetime | None
) -> Callable[[Doc], tuple[str, Doc]]:
    def change(doc: Doc) -> tuple[str, Doc]:
        if not wanted(doc):
            raise _Skip
        doc["reserved_for"] = value
        gen = versions.bump_gen(doc)
        doc["last_modified"] = now or clock.now()
        versions.note_edit(doc, {"reserved_for": value}, (), gen, queue.node)
        return "pending", doc

    return change


def reserved(queue: FsQueue) -> dict[str, list[str]]:
    """Node -> ids of the pending tasks reserved for it (from file names alone)."""
    out: dict[str, list[str]] = {}
    for name in queue.names("pending"):
        node = layout.reserved_for(name)
        if node is not None:
            out.setdefault(node, []).append(layout.task_id_of("pending", name))
    return out
