"""What a reader may open in a queue folder: regular files under a size limit.

Anything else a person, a sync tool or an accident can put in a state folder
(a directory, a FIFO, a socket, a device, a symlink, a huge file) is skipped
without being opened in a way that could block or read without end: names
are filtered on the directory entry's type, a file is looked at with
``lstat`` before it is opened, and opened with ``O_NOFOLLOW | O_NONBLOCK``
and checked again with ``fstat``. Each skipped entry is reported once per
process; ``labtasker fsck`` lists them and ``fsck --repair`` moves them to
``quarantine/``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from labtasker.log import log

MAX_BYTES = 1 << 20  # no task file we write comes near 1 MiB; a bigger one is not ours
_FLAGS = (
    os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
)
_warned: set[tuple[str, str]] = set()


class BadEntry(OSError):
    """A directory entry that is not a regular task file of a sane size."""


def problem(st: os.stat_result) -> str | None:
    """What is wrong with an entry, from its ``lstat``; None for a regular file within the limit."""
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return None if st.st_size <= MAX_BYTES else f"larger than {MAX_BYTES // 1024} KiB"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def is_regular(entry: os.DirEntry[str]) -> bool:
    """A directory entry that is a regular file (from the entry's type: usually no extra system call)."""
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


def read(path: Path | str) -> tuple[os.stat_result, bytes] | None:
    """A regular file's stat and bytes, read without following links or blocking; None if it vanished.

    Raises ``BadEntry`` (and warns once) for anything else.
    """
    return read_at(None, path)


def read_at(
    dir_fd: int | None, path: Path | str, *, quiet: bool = False, listed_regular: bool = False
) -> tuple[os.stat_result, bytes] | None:
    """``read``, through the open directory ``dir_fd`` (of ``path``) if one is given.

    A listing of 10^5 files reads them through one directory descriptor: no
    path walk per file, and ``path`` may be the bare name (no Path to make).
    ``quiet``: raise ``BadEntry`` without the warning. ``listed_regular``: the
    directory listing gave the entry's type as a regular file, which stands in
    for the ``lstat`` (the flags and the ``fstat`` after opening still catch an
    entry replaced meanwhile).
    """
    name: str | Path = path if dir_fd is None or isinstance(path, str) else path.name
    why = None
    if not listed_regular:
        try:
            st = os.lstat(name, dir_fd=dir_fd)
        except FileNotFoundError:
            return None
        why = problem(st)
    if why is None:
        try:
            fd = os.open(name, _FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            return None
        except OSError as exc:  # ELOOP: a symlink put there since our lstat
            why = f"unsafe to open ({exc.strerror})"
        else:
            try:
                st = os.fstat(fd)
                why = problem(st)
                if why is None:
                    data = _read_fd(fd, st.st_size)
                    if len(data) <= MAX_BYTES:
                        return st, data
                    why = f"larger than {MAX_BYTES // 1024} KiB"
            finally:
                os.close(fd)
    why = why or "not a regular file"
    if not quiet:
        warn(Path(path), why)
    raise BadEntry(f"{path} is {why}")


def _read_fd(fd: int, size: int) -> bytes:
    """At most ``MAX_BYTES + 1`` bytes; asks for the size ``fstat`` gave (plus one, to see the end)
    rather than for a whole MiB, which would cost a MiB's allocation per small file. A read of a
    regular file that gives less than asked has met its end: no second read to see it."""
    chunks, total = [], 0
    want = min(size, MAX_BYTES) + 1
    while total <= MAX_BYTES:
        chunk = os.read(fd, want)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if len(chunk) < want:
            break
        want = MAX_BYTES + 1 - total  # it grew meanwhile: read on, up to the limit
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def warn(path: Path | str, why: str) -> None:
    """Say once per process that an entry is skipped, and how to clear it."""
    key = (str(path), why)
    if key not in _warned:
        _warned.add(key)
        log.warning(
            "skipping %s: it is %s, not a task file (labtasker fsck --repair moves it to quarantine/)",
            path,
            why,
        )
