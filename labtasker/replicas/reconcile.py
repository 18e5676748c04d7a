"""Bring a replica to the merged state after files arrived from other replicas.

Copying replicas into each other (rsync without ``--delete``, a USB stick,
Syncthing, ``labtasker sync``) can leave one task in several files, old
versions a replica already replaced, and second copies such as ``x.yaml~``
(rsync ``--backup``) or Syncthing conflict copies. ``reconcile`` groups every
file by task, applies the merge rules (``merge.resolve``) and rewrites the
task's files to the result: one file per task, superseded results kept in
``attempts/``, tombstoned tasks gone. It is safe while workers run: every file
it replaces or removes is first taken into ``tmp/``, so a worker that holds
the task wins and the task is simply looked at again next time.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from labtasker.fsqueue import atomic, clock, codec, ids, layout
from labtasker.fsqueue.attempts import archive, is_archive_name, join_archives, write_archive
from labtasker.fsqueue.documents import normalise
from labtasker.fsqueue.layout import STATE_DIRS
from labtasker.fsqueue.replica_mark import mark_replica
from labtasker.fsqueue.store import Doc, FsQueue
from labtasker.fsqueue.versions import canonical, canonical_doc
from labtasker.replicas import merge

log = logging.getLogger("labtasker")

STATE_DIRNAMES = tuple(STATE_DIRS.values())
SYNCED_DIRS = (*STATE_DIRNAMES, "deleted", "attempts", "workers")
"""The directories replicas exchange (plus ``queue.yaml``); ``tmp/`` and ``quarantine/`` stay local."""


@dataclass
class Report:
    """What one reconcile changed."""

    merged: list[str] = field(default_factory=list)  # task ids found in several files, now one
    deleted: list[str] = field(default_factory=list)  # task ids removed by a tombstone
    archived: list[str] = field(default_factory=list)  # attempts/ files written
    dropped: list[str] = field(default_factory=list)  # attempts/ records of the run that won
    folded: list[str] = field(default_factory=list)  # second copies merged in and removed
    skipped: list[str] = field(default_factory=list)  # tasks that changed while we looked
    imported: int = 0  # files brought in with ``import_from``

    @property
    def changed(self) -> bool:
        return bool(self.merged or self.deleted or self.archived or self.dropped or self.folded)

    def describe(self) -> str:
        """One line for people."""
        parts = [
            f"{len(self.merged)} task(s) merged",
            f"{len(self.deleted)} deleted by tombstones",
            f"{len(self.archived)} result(s) kept in attempts/",
            f"{len(self.folded)} copies folded in",
        ]
        if self.imported:
            parts.insert(0, f"{self.imported} file(s) imported")
        if self.skipped:
            parts.append(f"{len(self.skipped)} changed meanwhile (run reconcile again)")
        return ", ".join(parts)


@dataclass(frozen=True)
class _File:
    """One file of a task as read: where, its parsed document and its bytes."""

    dirname: str
    name: str
    doc: Doc
    data: bytes


@dataclass
class _Scan:
    versions: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    copies: dict[str, list[_File]] = field(default_factory=lambda: defaultdict(list))
    tombstones: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    archives: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # merge records
    other_copies: list[tuple[str, str]] = field(default_factory=list)


def reconcile(queue: FsQueue, *, now: datetime | None = None) -> Report:
    """Merge every task found in more than one file; fold in second copies."""
    report = Report()
    for dirname in layout.ALL_DIRS:  # a fresh clone lacks tmp/ and empty state directories
        (queue.path / dirname).mkdir(exist_ok=True)
    mark_replica(queue)
    scan = _scan(queue)
    for dirname, name in scan.other_copies:
        _fold_other(queue, dirname, name, report)
    tids = {t for t, v in scan.versions.items() if len(v) > 1 or t in scan.tombstones}
    tids.update(scan.copies)
    tids.update(t for t in scan.archives if t in scan.versions or t in scan.tombstones)
    for tid in sorted(tids):
        _reconcile_task(queue, tid, scan, report, now or clock.now())
    return report


def _scan(queue: FsQueue) -> _Scan:
    scan = _Scan()
    for dirname in SYNCED_DIRS:
        try:
            names = sorted(os.listdir(queue.path / dirname))
        except FileNotFoundError:
            continue
        for name in names:
            if layout.is_alternate_copy(name):
                _scan_copy(queue, dirname, name, scan)
            elif dirname == "deleted" and layout.is_task_file(name):
                scan.tombstones[layout.task_id_of(dirname, name)].append(name)
            elif dirname == "attempts" and is_archive_name(name):
                scan.archives[layout.task_id_of(dirname, name)].append(name)
            elif dirname in STATE_DIRNAMES and layout.is_task_file(name):
                scan.versions[layout.task_id_of(dirname, name)].append((dirname, name))
    for name in sorted(os.listdir(queue.path)):
        if layout.is_alternate_copy(name) and layout.original_of_copy(name) == "queue.yaml":
            scan.other_copies.append((".", name))
    return scan


def _scan_copy(queue: FsQueue, dirname: str, name: str, scan: _Scan) -> None:
    if dirname not in STATE_DIRNAMES:
        scan.other_copies.append((dirname, name))
        return
    found = _read(queue, dirname, name, "task_id")
    if found is not None:
        scan.copies[found.doc["task_id"]].append(found)


def _read(queue: FsQueue, dirname: str, name: str, key: str | None, check_name: bool = False) -> _File | None:
    """Read and parse a file; an unreadable one is quarantined like any unreadable file."""
    try:
        data = (queue.path / dirname / name).read_bytes()
    except FileNotFoundError:
        return None
    try:
        doc = codec.load(data, required_key=key)
        if check_name and doc["task_id"] != layout.task_id_of(dirname, name):
            raise codec.Unreadable(f"task_id {doc['task_id']!r} does not match the file name")
    except codec.Unreadable as exc:
        queue.quarantine(dirname, name, str(exc))
        return None
    if dirname in STATE_DIRNAMES:
        normalise(doc)
        doc["status"] = layout.status_value(dirname)
    return _File(dirname, name, doc, data)


# ------------------------------------------------------------------- tasks
def _reconcile_task(queue: FsQueue, tid: str, scan: _Scan, report: Report, now: datetime) -> None:
    found = [_read(queue, d, n, "task_id", check_name=True) for d, n in scan.versions.get(tid, [])]
    files = [f for f in found if f is not None]
    primaries = [(f.dirname, f.name) for f in files]
    copies = scan.copies.get(tid, [])
    inputs = files + copies
    tombstones = [{"task_id": tid}] if scan.tombstones.get(tid) else []
    plan = merge.resolve([merge.Version(f.dirname, f.doc) for f in inputs], tombstones)
    for name, record in sorted(plan.archives.items()):
        if write_archive(queue, name, record):
            report.archived.append(name)
    keep = None
    if plan.keep is not None:
        dirname, name, doc = plan.keep
        keep = (dirname, name)
        data = _bytes_of(dirname, doc, inputs)
        changed = _write_kept(queue, dirname, name, data, (dirname, name) in primaries, now)
        if changed is None:
            report.skipped.append(tid)
            return
        if changed or len(inputs) > 1:
            report.merged.append(tid)
    removed = [_remove(queue, d, n, now) for d, n in primaries if (d, n) != keep]
    for name in _stale_archives(plan, scan.archives.get(tid, [])):
        (queue.path / "attempts" / name).unlink(
            missing_ok=True
        )  # the winning run's own record, or a deleted task's
        report.dropped.append(name)
    if plan.keep is None and primaries:
        report.deleted.append(tid)
    elif any(removed) and tid not in report.merged:
        report.merged.append(tid)
    for copy in copies:
        (queue.path / copy.dirname / copy.name).unlink(missing_ok=True)
        report.folded.append(f"{copy.dirname}/{copy.name}")


def _bytes_of(dirname: str, doc: Doc, inputs: list[_File]) -> bytes:
    """The bytes of the merged document: an input's own when it is one of them (so a file
    is rewritten only when the merge made something new), else its canonical form."""
    for found in inputs:
        if found.dirname == dirname and found.doc == doc:
            return found.data
    return codec.dump(canonical_doc(doc))


def _stale_archives(plan: merge.Plan, names: list[str]) -> list[str]:
    """Merge records that must go: the one of the run that won (a deleted task keeps all of its)."""
    if plan.keep is None:
        return []
    own, _ = archive(plan.keep[2])
    return [own] if own in names and own not in plan.archives else []


def _write_kept(
    queue: FsQueue, dirname: str, name: str, data: bytes, exists: bool, now: datetime
) -> bool | None:
    """Write the merged document; False if already there, None if the file changed under us."""
    path = queue.path / dirname / name
    if _bytes(path) == data:
        return False
    if not exists:
        atomic.write_atomic(path, data, queue.tmp)
        return True
    try:
        held = _hold(queue, dirname, name, now)
    except FileNotFoundError:
        return None
    atomic.write_atomic(path, data, queue.tmp)
    held.unlink(missing_ok=True)
    return True


def _remove(queue: FsQueue, dirname: str, name: str, now: datetime) -> bool:
    """Remove a superseded file, taking it first; False if someone else had it."""
    try:
        held = _hold(queue, dirname, name, now)
    except FileNotFoundError:
        return False
    held.unlink(missing_ok=True)
    return True


def _hold(queue: FsQueue, dirname: str, name: str, now: datetime) -> Path:
    return queue.take(dirname, name)


# --------------------------------------------------- results, other files
def _fold_other(queue: FsQueue, dirname: str, name: str, report: Report) -> None:
    """A second copy of a tombstone, an attempt, a worker or queue.yaml: keep one, drop the other."""
    key = {"deleted": "task_id", "attempts": "task_id", "workers": "worker_id"}.get(dirname)
    copy = _read(queue, dirname, name, key)
    if copy is None:
        return
    folder = queue.path / dirname
    original = folder / layout.original_of_copy(name)
    data = _bytes(original)
    try:
        current = codec.load(data, required_key=key) if data is not None else None
    except codec.Unreadable:
        current = None
    best = _better(dirname, current, copy.doc)
    if best is not current:
        out = copy.data if best is copy.doc else codec.dump(canonical_doc(best))
        atomic.write_atomic(original, out, queue.tmp)
    (folder / name).unlink(missing_ok=True)
    report.folded.append(f"{dirname}/{name}")


def _better(dirname: str, current: Doc | None, copy: Doc) -> Doc:
    """The version of a non-task file every replica keeps."""
    if current is None:
        return copy
    if dirname == "attempts" and "life" in current and "life" in copy:
        return join_archives(current, copy)
    if dirname == "workers":  # the later write of its one owner
        return max((current, copy), key=lambda d: (_stamp(d.get("last_modified")), canonical(d)))
    if dirname == ".":  # queue.yaml: the first created, as every replica can tell
        return min((current, copy), key=lambda d: (_stamp(d.get("created_at")), canonical(d)))
    return max((current, copy), key=canonical)


def merge_bytes(dirname: str, ours: bytes, theirs: bytes) -> bytes:
    """Two versions of one queue file (``dirname`` its folder, ``.`` for queue.yaml) as one:
    the same rules as ``reconcile``, for a tool that meets both at once (``labtasker sync``)."""
    key = {"workers": "worker_id", ".": None}.get(dirname, "task_id")
    docs: list[Doc | None] = []
    for data in (ours, theirs):
        try:
            docs.append(codec.load(data, required_key=key))
        except codec.Unreadable:
            docs.append(None)
    mine, other = docs
    if mine is None or other is None:
        return theirs if mine is None and other is not None else ours
    if dirname not in STATE_DIRNAMES:
        best = _better(dirname, mine, other)
        return ours if best is mine else theirs
    files = [
        _File(dirname, "", _with_status(normalise(d), dirname), b) for d, b in ((mine, ours), (other, theirs))
    ]
    plan = merge.resolve([merge.Version(dirname, f.doc) for f in files])
    assert plan.keep is not None
    return _bytes_of(dirname, plan.keep[2], files) if plan.keep[0] == dirname else ours


def _with_status(doc: Doc, dirname: str) -> Doc:
    doc["status"] = layout.status_value(dirname)
    return doc


def _stamp(value: Any) -> float:
    try:
        return float(value.timestamp())
    except (AttributeError, ValueError, OverflowError):
        return 0.0


# ------------------------------------------------------------------ import
def import_from(queue: FsQueue, source: str | os.PathLike[str]) -> int:
    """Bring in another replica's files (a copied folder) as second copies; return how many.

    Nothing lands under its own name, so no worker sees a file before
    ``reconcile`` has merged it with what this replica knows.
    """
    source = Path(source)
    if not (source / "queue.yaml").is_file() and not any((source / d).is_dir() for d in SYNCED_DIRS):
        raise FileNotFoundError(f"{source} is not a queue directory (no queue.yaml, no pending/, done/...)")
    tag = f".~from-{ids.nonce(3)}~"
    count = 0
    for dirname, name in _source_files(source):
        data = (source / dirname / name).read_bytes()
        local = queue.path / dirname / name
        if _bytes(local) == data:
            continue
        local.parent.mkdir(exist_ok=True)
        atomic.write_atomic(local.with_name(name + tag), data, queue.tmp)
        count += 1
    return count


def _source_files(source: Path) -> Iterable[tuple[str, str]]:
    if (source / "queue.yaml").is_file():
        yield ".", "queue.yaml"
    for dirname in SYNCED_DIRS:
        try:
            names = sorted(os.listdir(source / dirname))
        except FileNotFoundError:
            continue
        for name in names:
            if layout.is_task_file(name) and (source / dirname / name).is_file():
                yield dirname, name


def _bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
