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

from labtasker.fsqueue import atomic, clock, codec, ids, layout, merge
from labtasker.fsqueue.layout import STATE_DIRS
from labtasker.fsqueue.model import normalise, ordered
from labtasker.fsqueue.queue import Doc, FsQueue

log = logging.getLogger("labtasker")

STATE_DIRNAMES = tuple(STATE_DIRS.values())
SYNCED_DIRS = (*STATE_DIRNAMES, "deleted", "attempts", "workers")
"""The directories replicas exchange (plus ``queue.yaml``); ``tmp/`` and ``quarantine/`` stay local."""


@dataclass
class Report:
    """What one reconcile changed."""

    merged: list[str] = field(default_factory=list)  # task ids whose files were rewritten
    deleted: list[str] = field(default_factory=list)  # task ids removed by a tombstone
    archived: list[str] = field(default_factory=list)  # attempts/ files written
    folded: list[str] = field(default_factory=list)  # second copies merged in and removed
    skipped: list[str] = field(default_factory=list)  # tasks that changed while we looked
    imported: int = 0  # files brought in with ``import_from``

    @property
    def changed(self) -> bool:
        return bool(self.merged or self.deleted or self.archived or self.folded)

    def describe(self) -> str:
        """One line for people."""
        parts = [f"{len(self.merged)} task(s) merged", f"{len(self.deleted)} deleted by tombstones",
                 f"{len(self.archived)} result(s) kept in attempts/", f"{len(self.folded)} copies folded in"]
        if self.imported:
            parts.insert(0, f"{self.imported} file(s) imported")
        if self.skipped:
            parts.append(f"{len(self.skipped)} changed meanwhile (run reconcile again)")
        return ", ".join(parts)


@dataclass
class _Scan:
    versions: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    copies: dict[str, list[tuple[str, str, Doc]]] = field(default_factory=lambda: defaultdict(list))
    tombstones: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    other_copies: list[tuple[str, str]] = field(default_factory=list)


def reconcile(queue: FsQueue, *, now: datetime | None = None) -> Report:
    """Merge every task found in more than one file; fold in second copies."""
    report = Report()
    scan = _scan(queue)
    for dirname, name in scan.other_copies:
        _fold_other(queue, dirname, name, report)
    tids = {t for t, v in scan.versions.items() if len(v) > 1 or t in scan.tombstones}
    tids.update(scan.copies)
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
    doc = _load(queue, dirname, name, "task_id")
    if doc is not None:
        scan.copies[doc["task_id"]].append((dirname, name, normalise(doc)))


def _load(queue: FsQueue, dirname: str, name: str, key: str | None) -> Doc | None:
    """Parse a second copy; an unreadable one is quarantined like any unreadable file."""
    try:
        data = (queue.path / dirname / name).read_bytes()
    except FileNotFoundError:
        return None
    try:
        return codec.load(data, required_key=key)
    except codec.Unreadable as exc:
        queue.quarantine(dirname, name, str(exc))
        return None


# ------------------------------------------------------------------- tasks
def _reconcile_task(queue: FsQueue, tid: str, scan: _Scan, report: Report, now: datetime) -> None:
    primaries = []
    versions = []
    for dirname, name in scan.versions.get(tid, []):
        doc = queue.read(dirname, name)
        if doc is not None:
            primaries.append((dirname, name))
            versions.append(merge.Version(dirname, doc))
    copies = scan.copies.get(tid, [])
    versions += [merge.Version(dirname, doc) for dirname, _, doc in copies]
    tombstones = [{"task_id": tid}] if scan.tombstones.get(tid) else []
    plan = merge.resolve(versions, tombstones)
    for name, record in sorted(plan.archives.items()):
        if write_archive(queue, name, record):
            report.archived.append(name)
    keep = None
    if plan.keep is not None:
        dirname, name, doc = plan.keep
        keep = (dirname, name)
        changed = _write_kept(queue, dirname, name, doc, (dirname, name) in primaries, now)
        if changed is None:
            report.skipped.append(tid)
            return
        if changed:
            report.merged.append(tid)
    removed = [_remove(queue, d, n, now) for d, n in primaries if (d, n) != keep]
    if plan.keep is None and primaries:
        report.deleted.append(tid)
    elif any(removed) and tid not in report.merged:
        report.merged.append(tid)
    for dirname, name, _ in copies:
        _unlink(queue.path / dirname / name)
        report.folded.append(f"{dirname}/{name}")


def _write_kept(queue: FsQueue, dirname: str, name: str, doc: Doc, exists: bool, now: datetime) -> bool | None:
    """Write the merged document; False if already there, None if the file changed under us."""
    data = codec.dump(ordered(doc))
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
    _unlink(held)
    return True


def _remove(queue: FsQueue, dirname: str, name: str, now: datetime) -> bool:
    """Remove a superseded file, taking it first; False if someone else had it."""
    try:
        held = _hold(queue, dirname, name, now)
    except FileNotFoundError:
        return False
    _unlink(held)
    return True


def _hold(queue: FsQueue, dirname: str, name: str, now: datetime) -> Path:
    held = queue.tmp / layout.held_name(dirname, name, now, f"{os.getpid()}x{ids.nonce(3)}")
    os.rename(queue.path / dirname / name, held)
    return held


# --------------------------------------------------- results, other files
def write_archive(queue: FsQueue, name: str, record: Doc) -> bool:
    """Keep a superseded result under ``attempts/name``; two records of one run are joined."""
    path = queue.path / "attempts" / name
    old = _bytes(path)
    if old is not None:
        try:
            record = merge.join_archives(codec.load(old, required_key="task_id"), record)
        except codec.Unreadable:
            queue.quarantine("attempts", name, "unreadable")
    data = codec.dump(ordered(record))
    if data == old:
        return False
    atomic.write_atomic(path, data, queue.tmp)
    return True


def keep_replaced(queue: FsQueue, doc: Doc) -> None:
    """A user's re-queue or cancel replaces a finished result: keep it in ``attempts/``."""
    name, record = merge.archive(doc)
    write_archive(queue, name, record)


def _fold_other(queue: FsQueue, dirname: str, name: str, report: Report) -> None:
    """A second copy of a tombstone, an attempt, a worker or queue.yaml: keep one, drop the other."""
    key = {"deleted": "task_id", "attempts": "task_id", "workers": "worker_id"}.get(dirname)
    copy = _load(queue, dirname, name, key)
    if copy is None:
        return
    folder = queue.path / dirname
    original = folder / layout.original_of_copy(name)
    data = _bytes(original)
    try:
        current = codec.load(data, required_key=key) if data is not None else None
    except codec.Unreadable:
        current = None
    best = _better(dirname, current, copy)
    if best is not current:
        atomic.write_atomic(original, codec.dump(best), queue.tmp)
    _unlink(folder / name)
    report.folded.append(f"{dirname}/{name}")


def _better(dirname: str, current: Doc | None, copy: Doc) -> Doc:
    """The version of a non-task file every replica keeps."""
    if current is None:
        return copy
    if dirname == "attempts" and "life" in current and "life" in copy:
        return merge.join_archives(current, copy)
    if dirname == "workers":  # the later write of its one owner
        return max((current, copy), key=lambda d: (_stamp(d.get("last_modified")), merge.canonical(d)))
    if dirname == ".":  # queue.yaml: the first created, as every replica can tell
        return min((current, copy), key=lambda d: (_stamp(d.get("created_at")), merge.canonical(d)))
    return max((current, copy), key=merge.canonical)


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


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
