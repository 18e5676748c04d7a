"""``labtasker fsck``: find what should not be in a queue, and with ``repair`` fix it.

Looks for a task in two states (or sent back by an old replica after its
tombstone), leases long expired, leftovers in ``tmp/``, unreadable or
conflict-marked files, second copies left by sync tools, and files whose name
does not match their content. Safe while workers run: it reads without
touching, confirms a task in two states with a second listing (a claim moving
a task between two listings looks like one), and every fix is a take of the
file first, so a worker holding it wins. Lease ages are measured on the
filesystem's own clock (a probe file's mtime), never this host's clock.
"""

from __future__ import annotations

import contextlib
import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from labtasker.fsqueue import clock, codec, durations, entries, held, layout, lease, locking
from labtasker.fsqueue.store import HELD_AGE as QUEUE_HELD_AGE
from labtasker.fsqueue.store import Doc, FsQueue
from labtasker.replicas import merge, reconcile

STATE_DIRNAMES = reconcile.STATE_DIRNAMES
HELD_AGE = QUEUE_HELD_AGE  # a take lasts milliseconds; held this long by another host's process: it died
TMP_AGE = 3600.0  # temp files of writes; a write this old died
CLOCK_MARGIN = 60.0  # hosts writing one share may disagree this much


@dataclass(frozen=True)
class Finding:
    """One problem: what kind, which file (relative to the queue), and why."""

    kind: str
    path: str
    detail: str


@dataclass
class FsckReport:
    """What fsck found, what it fixed, and what is left."""

    found: list[Finding] = field(default_factory=list)
    fixed: list[Finding] = field(default_factory=list)
    left: list[Finding] = field(default_factory=list)
    quarantined: int = 0  # files already set aside in quarantine/, for a person to look at

    @property
    def clean(self) -> bool:
        return not self.left


def fsck(
    queue: FsQueue,
    *,
    repair: bool = False,
    grace: float = 600.0,
    all_nodes: bool = False,
) -> FsckReport:
    """Check a queue (and fix it with ``repair``); ``grace``: seconds past a lease's timeout."""
    report = FsckReport(found=scan(queue, grace=grace, all_nodes=all_nodes))
    report.left = report.found
    if repair and report.found:
        _repair(queue, report.found, grace, all_nodes)
        report.left = scan(queue, grace=grace, all_nodes=all_nodes)
        left = set(report.left)
        report.fixed = [f for f in report.found if f not in left]
    with contextlib.suppress(FileNotFoundError):
        report.quarantined = len(os.listdir(queue.path / "quarantine"))
    return report


# -------------------------------------------------------------------- scan
def scan(queue: FsQueue, *, grace: float = 600.0, all_nodes: bool = False) -> list[Finding]:
    """Every problem, without changing anything."""
    found: list[Finding] = []
    places: dict[str, list[str]] = defaultdict(list)
    for dirname in reconcile.SYNCED_DIRS:
        for name in _listing(queue, dirname):
            finding = _look(queue, dirname, name, places)
            if finding is not None:
                found.append(finding)
    found += _duplicates(queue, places)
    fs_now = _fs_now(queue)
    found += _leases(queue, fs_now, grace, all_nodes)
    found += _tmp(queue, fs_now)
    return found


def _listing(queue: FsQueue, dirname: str) -> list[str]:
    try:
        return sorted(os.listdir(queue.path / dirname))
    except FileNotFoundError:
        return []


def _look(queue: FsQueue, dirname: str, name: str, places: dict[str, list[str]]) -> Finding | None:
    rel = f"{dirname}/{name}"
    if name.startswith(".") or name.endswith(".tmp"):
        return None  # what every reader skips (.nfs files, dotfiles, temp writes)
    try:
        why = entries.problem(os.lstat(queue.path / rel))
    except FileNotFoundError:
        return None
    if why is not None:
        return Finding("not-a-task-file", rel, f"{why}; readers skip it")
    if layout.is_alternate_copy(name):
        return Finding("conflict-copy", rel, "a second copy left by a sync tool or a backup")
    if not name.endswith(layout.SUFFIX):
        return Finding("not-a-task-file", rel, "not a .yaml file")
    key = "worker_id" if dirname == "workers" else "task_id"
    try:
        got = entries.read(queue.path / rel)
        if got is None:
            return None
        doc = codec.load(got[1], required_key=key)
    except entries.BadEntry as exc:
        return Finding("not-a-task-file", rel, str(exc))
    except codec.Unreadable as exc:
        return Finding("unreadable", rel, str(exc))
    if dirname not in STATE_DIRNAMES:
        return None
    if doc["task_id"] != layout.task_id_of(dirname, name):
        return Finding("unreadable", rel, f"task_id {doc['task_id']!r} does not match the file name")
    places[doc["task_id"]].append(rel)
    status = layout.status_value(dirname)
    if doc.get("status") != status:
        said = doc.get("status")
        return Finding("status-mismatch", rel, f"says {said!r}, is in {dirname}/ (the folder is the truth)")
    try:
        want = merge.canonical_name(dirname, doc)
    except (KeyError, TypeError, ValueError):
        return None
    if name != want:
        return Finding("misnamed", rel, f"should be named {want}")
    return None


def _duplicates(queue: FsQueue, places: dict[str, list[str]]) -> list[Finding]:
    """Tasks in more than one file, confirmed by a second look (claims move files between listings)."""
    tombstoned = {
        layout.task_id_of("deleted", n) for n in _listing(queue, "deleted") if layout.is_task_file(n)
    }
    out = []
    for tid, rels in sorted(places.items()):
        still = [r for r in rels if (queue.path / r).exists()]
        if tid in tombstoned and still:
            out.append(Finding("deleted-but-present", still[0], f"task {tid} has a tombstone in deleted/"))
        elif len(still) > 1:
            out.append(Finding("two-states", still[0], f"task {tid} is also in {', '.join(still[1:])}"))
    return out


def _leases(queue: FsQueue, fs_now: float, grace: float, all_nodes: bool) -> list[Finding]:
    out = []
    for name in _listing(queue, "running"):  # a listing that puts nothing back: fsck reports first
        if not layout.is_task_file(name):
            continue
        try:
            got = entries.read(queue.path / "running" / name)
            if got is None:
                continue
            st, doc = got[0], codec.load(got[1], required_key="task_id")
        except (entries.BadEntry, codec.Unreadable):
            continue
        terms = lease.terms_of(doc, lease.Terms())
        age = fs_now - st.st_mtime
        if age <= terms.timeout + grace:
            continue
        detail = f"not renewed for {durations.human(age)} (timeout {durations.human(terms.timeout)})"
        if not (all_nodes or _ours(queue, doc)):
            detail += f"; a run of node {doc.get('node')}: --repair reclaims it only with --all-nodes"
        out.append(Finding("expired-lease", f"running/{name}", detail))
    return out


def _ours(queue: FsQueue, doc: Doc) -> bool:
    """Claimed on this replica (any host sharing its folder) or on this very host."""
    lease = doc.get("lease")
    info = lease if isinstance(lease, dict) else {}
    return doc.get("node") == queue.node or info.get("host") == locking.host_key()


def _tmp(queue: FsQueue, fs_now: float) -> list[Finding]:
    """Files of processes that died: held tasks and unfinished writes (same host: at once)."""
    out = []
    for name in _listing(queue, "tmp"):
        path = queue.tmp / name
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        parsed = layout.parse_held(name)
        if entries.problem(st) == "a directory" or name.startswith("fsck."):
            continue
        if parsed is None and not name.endswith(".tmp"):
            continue
        owner = held.holder_of(parsed[1], parsed[2]) if parsed else held.temp_holder(name)
        alive = owner.alive() if owner is not None else None
        if alive:
            continue
        # a rename keeps the mtime of a held file but sets its ctime; a write sets both
        age = fs_now - (st.st_ctime if parsed else st.st_mtime)
        if alive is None and age <= (HELD_AGE if parsed else TMP_AGE) + CLOCK_MARGIN:
            continue
        what = "a task held by a process that died" if parsed else "a write that never finished"
        out.append(Finding("tmp-leftover", f"tmp/{name}", f"{what}, {durations.human(age)} old"))
    return out


def _fs_now(queue: FsQueue) -> float:
    """Now on the filesystem's clock: the mtime of a probe file we just wrote."""
    queue.tmp.mkdir(exist_ok=True)
    return queue.fs_now()


# ------------------------------------------------------------------ repair
def _repair(queue: FsQueue, found: list[Finding], grace: float, all_nodes: bool) -> None:
    kinds = {f.kind for f in found}
    for finding in found:
        dirname, name = finding.path.split("/", 1)
        if finding.kind in ("unreadable", "not-a-task-file") and dirname != "tmp":
            queue.quarantine(dirname, name, finding.detail)
        elif finding.kind in ("status-mismatch", "misnamed"):
            _rename(queue, dirname, name)
    if kinds & {"two-states", "deleted-but-present", "conflict-copy", "misnamed", "status-mismatch"}:
        reconcile.reconcile(queue)
    for finding in found:
        if finding.kind == "expired-lease":
            _reclaim(queue, finding, all_nodes)
    if "tmp-leftover" in kinds:
        queue.recover_held(older_than=HELD_AGE + CLOCK_MARGIN)
        for finding in found:
            path = queue.path / finding.path
            if finding.kind == "tmp-leftover" and finding.path.endswith(".tmp"):
                path.unlink(missing_ok=True)


def _rename(queue: FsQueue, dirname: str, name: str) -> None:
    """Rewrite a file under the name (and status) its folder and content call for."""
    try:
        queue.transact(dirname, name, lambda doc: (dirname, doc))
    except FileNotFoundError:
        pass  # a worker had it: it writes the file correctly itself


def _reclaim(queue: FsQueue, finding: Finding, all_nodes: bool) -> None:
    name = finding.path.split("/", 1)[1]
    path = queue.path / finding.path
    try:
        seen = os.stat(path).st_mtime_ns
        doc = codec.load(path.read_bytes(), required_key="task_id")
    except (FileNotFoundError, codec.Unreadable):
        return
    if not (all_nodes or _ours(queue, doc)):
        return
    now = clock.now()
    error = f"lease reclaimed by labtasker fsck on {queue.node}: {finding.detail}"

    def unchanged(held: Any) -> None:
        if os.stat(held).st_mtime_ns != seen:
            raise FileNotFoundError("renewed meanwhile")

    try:
        queue.transact("running", name, lambda d: lease.reclaim(d, error, now), on_take=unchanged)
    except FileNotFoundError:
        pass  # finished, reclaimed or renewed meanwhile
