"""The only module that writes bytes to the queue: whole files, never partial.

A file is written to ``tmp/`` on the same filesystem, fsynced, then renamed
into place, so no reader ever sees half a file.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from labtasker.fsqueue import faults, held


def write_atomic(
    dest: str | Path, data: bytes, tmp_dir: str | Path, *, durable: bool = True
) -> os.stat_result | None:
    """Write ``data`` to ``dest`` whole: temp file, fsync, rename over ``dest``.

    The temp file's name says who writes it (``fsqueue/held.py``), so the
    next sweep removes it at once if this process dies before the rename.
    Returns ``dest``'s stat just after the rename if it is still the file
    written here (the listing cache keys what it remembers by it), else None.
    """
    tmp = os.path.join(tmp_dir, held.temp_name("w"))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if durable:
            os.fsync(fd)
        inode = os.fstat(fd).st_ino
    except BaseException:
        os.close(fd)
        _unlink_quietly(tmp)
        raise
    try:
        os.close(fd)  # NFS reports deferred write errors here, so let it raise
        faults.at("write", os.path.basename(os.path.dirname(dest)))
        os.replace(tmp, dest)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    try:
        st = os.lstat(dest)  # after the rename: it sets the inode's ctime
    except OSError:
        return None
    return st if st.st_ino == inode else None  # else another writer replaced it already


def fsync_dir(path: Path) -> None:
    """Make renames into ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the rename still happened
    finally:
        os.close(fd)


def _unlink_quietly(path: str | Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
