"""Worker liveness locks (the only importer of fasteners), and what this host knows of the filesystem.

A loop holds an exclusive lock on ``<queue>/tmp/locks/<worker>--<nonce>.lock``
for as long as it lives; the kernel drops it when the process dies, however it
dies. Another process on the same host that can take the lock knows the
worker is gone and may reclaim its task at once, without waiting for the lease
to time out. ``tmp/`` is never synced, and a lock is only probed from the host
that made it (``host_key``), since advisory locks do not cross NFS clients
reliably.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labtasker.fsqueue import ids, layout
from labtasker.fsqueue.store import FsQueue
from labtasker.log import log

if TYPE_CHECKING:
    import fasteners


SUFFIX = ".lock"
_held: set[Path] = set()  # locks this process holds: probing them would drop them (POSIX)
_guard = threading.Lock()
_host: list[str] = []


def host_key() -> str:
    """This machine, as liveness locks know it: host name and boot id (Linux)."""
    if not _host:
        name = ids.hostname() or "host"
        try:
            boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()[:8]
        except OSError:
            boot = ""
        _host.append(f"{name}/{boot}" if boot else name)
    return _host[0]


def lock_dir(queue: FsQueue) -> Path:
    return queue.tmp / "locks"


class WorkerLock:
    """Held while a worker's loop runs; ``name`` goes into each lease it takes."""

    def __init__(self, queue: FsQueue, worker_id: str) -> None:
        self.name = f"{worker_id}{layout.SEP}{ids.nonce(4)}"
        self.path = lock_dir(queue) / f"{self.name}{SUFFIX}"
        self._lock: fasteners.InterProcessLock | None = None

    def __enter__(self) -> WorkerLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Locked under a temporary name, then published: nobody can see it unlocked.
        staging = self.path.with_name(f".{self.path.name}.new")
        lock = _interprocess_lock(str(staging))
        if not lock.acquire(blocking=False):  # pragma: no cover - the name is ours alone
            raise RuntimeError(f"could not lock {staging}")
        os.rename(staging, self.path)
        self._lock = lock
        with _guard:
            _held.add(self.path)
        return self

    def __exit__(self, *exc: object) -> None:
        with _guard:
            _held.discard(self.path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # while still held, so no prober mistakes us for dead
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def probe(queue: FsQueue, name: str | None) -> bool | None:
    """Is the worker holding lock ``name`` alive? None when that cannot be told."""
    if not isinstance(name, str) or not ids.SAFE_ID.match(name):
        return None
    path = lock_dir(queue) / f"{name}{SUFFIX}"
    with _guard:
        if path in _held:
            return True
        if not path.exists():
            return None
        lock = _interprocess_lock(str(path))
        try:
            if not lock.acquire(blocking=False):
                return True
        except threading.ThreadError as exc:  # the lock itself failed (e.g. NFS without lockd)
            log.debug("cannot probe %s: %s", path, exc)
            return None
        lock.release()
        return False


def clean(queue: FsQueue, keep: set[str]) -> list[str]:
    """Remove lock files of workers that are gone, except those named in ``keep``."""
    removed: list[str] = []
    folder = lock_dir(queue)
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return removed
    for entry in names:
        if not entry.endswith(SUFFIX) or entry.startswith("."):
            continue
        name = entry[: -len(SUFFIX)]
        if name in keep or probe(queue, name) is not False:
            continue
        _remove_if_free(folder / entry)
        removed.append(name)
    return removed


def _remove_if_free(path: Path) -> None:
    """Unlink a dead worker's lock file while holding it, so no probe sees it half-gone."""
    with _guard:
        lock = _interprocess_lock(str(path))
        try:
            if not lock.acquire(blocking=False):
                return
        except threading.ThreadError:
            return
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        finally:
            lock.release()


# ------------------------------------------------------------------ mounts
NETWORK_FS = {
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "lustre",
    "gpfs",
    "beegfs",
    "ceph",
    "glusterfs",
    "9p",
    "afs",
    "panfs",
    "wekafs",
    "virtiofs",
    "vboxsf",
    "davfs",
    "orangefs",
}


def mount_of(path: Path) -> tuple[str, dict[str, str]]:
    """The filesystem type and mount options of ``path`` (("", {}) where unknown)."""
    try:
        with open("/proc/mounts", encoding="utf-8") as fh:
            mounts = [line.split() for line in fh]
    except OSError:
        return "", {}
    real = os.path.realpath(path)
    best, kind, options = "", "", ""
    for fields in mounts:
        if len(fields) < 4:
            continue
        point = fields[1].replace("\\040", " ")
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind, options = point, fields[2], fields[3]
    pairs = (opt.partition("=") for opt in options.split(",") if opt)
    return kind, {key: value for key, _, value in pairs}


def is_network_fs(path: Path) -> bool:
    """True if ``path`` is on a filesystem whose changes local notifications may miss."""
    kind, _ = mount_of(path)
    return kind in NETWORK_FS or kind.startswith("fuse.") or kind == "fuse"


def attribute_cache_seconds(path: Path) -> float:
    """How stale another client's view of a file's mtime may be on this mount (NFS, SMB caches)."""
    return cache_of_mount(*mount_of(path))


def cache_of_mount(kind: str, options: dict[str, str]) -> float:
    """The attribute cache bound of a mount, from its type and options (0: coherent or local)."""
    if kind not in ("nfs", "nfs4", "cifs", "smb3", "smbfs") or "noac" in options:
        return 0.0
    default = "60" if kind.startswith("nfs") else "1"
    value = options.get("acregmax") or options.get("actimeo") or default
    try:
        return float(value)
    except ValueError:
        return float(default)


def _interprocess_lock(path: str) -> Any:
    """fasteners' lock on ``path``; fasteners is imported here, by the commands that lock."""
    import fasteners

    return fasteners.InterProcessLock(path)
