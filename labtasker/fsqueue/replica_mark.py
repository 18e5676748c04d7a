"""The local mark of a replica: this folder exchanges files with other replicas."""

from __future__ import annotations

from labtasker.fsqueue.store import FsQueue

REPLICA_MARK = "replica"
"""A file in the local ``tmp/`` saying: this folder exchanges files with other replicas."""


def mark_replica(queue: FsQueue) -> None:
    """Note (locally, never synced) that runs of other nodes arrive here as copies.

    Sweepers then leave those runs alone: their owners renew leases on their
    own replicas, so a lease that looks stale here says nothing about them.
    """
    (queue.tmp / REPLICA_MARK).touch(exist_ok=True)


def is_replica(queue: FsQueue) -> bool:
    return (queue.tmp / REPLICA_MARK).exists()
