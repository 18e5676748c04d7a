"""Who holds a file in ``tmp/``, and whether they are still alive.

A process that takes a file (``FsQueue.transact``) or writes a temp file
names it after itself: ``<host>.<pid>-<start>-<nonce>``. ``host`` stands for
this boot of this machine in this pid namespace (a hash of the kernel's boot
id and the pid namespace), ``start`` is the process's start time in clock
ticks since boot. On the same host, a holder is alive exactly when a process
with that pid and that start time exists and is not a zombie: a killed
holder is known dead at once, and a reused pid never passes for it. A holder
on another host cannot be asked; its files are judged by their age on the
filesystem's own clock (the queue decides that, not this module).
"""

from __future__ import annotations

import os
import re
import zlib

from labtasker.fsqueue import ids
from labtasker.record import Record

_TOKEN = re.compile(r"^(\d+)-(\d+)-([0-9a-f]+)$")
_HOST = re.compile(r"^h[0-9a-f]{8}$")
_me: list[tuple[str, str]] = []  # (host, token) of this process, made once (a fork makes its own)
os.register_at_fork(after_in_child=_me.clear)


def _host_of_boot() -> str:
    parts = []
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            parts.append(fh.read().strip())
        parts.append(str(os.stat("/proc/self/ns/pid").st_ino))
    except OSError:
        parts = [ids.hostname() or "host"]  # no /proc: the pid check below is by pid alone
    return f"h{zlib.crc32('/'.join(parts).encode()):08x}"


def start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot); 0 where that cannot be told; None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except FileNotFoundError:
        return None
    except OSError:
        return _exists(pid)
    fields = stat[stat.rfind(b")") + 2 :].split()
    if len(fields) < 20 or fields[0] in (b"Z", b"X"):  # a zombie is dead, only not yet reaped
        return None
    return int(fields[19])


def _exists(pid: int) -> int | None:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return 0
    return 0


def me() -> tuple[str, str]:
    """(host, token) naming this process in held and temp file names."""
    if not _me:
        pid = os.getpid()
        _me.append((_host_of_boot(), f"{pid}-{start_ticks(pid) or 0}-{ids.nonce(2)}"))
    return _me[0]


class Holder(Record):
    """The process a held or temp file's name says holds it."""

    _fields = ("host", "token")
    host: str
    token: str

    def __init__(self, host: str, token: str) -> None:
        self._init(host=host, token=token)

    def alive(self) -> bool | None:
        """True or False on this host; None when the holder is on another host (or unknown)."""
        match = _TOKEN.match(self.token)
        if match is None or self.host != me()[0]:
            return None
        pid, start = int(match.group(1)), int(match.group(2))
        now = start_ticks(pid)
        if now is None:
            return False
        return now == start or 0 in (now, start)


def holder_of(host: str, token: str) -> Holder | None:
    """The holder a file name names, or None for a name in an older form."""
    if _HOST.match(host) and _TOKEN.match(token):
        return Holder(host, token)
    return None


def temp_name(prefix: str) -> str:
    """A temp file name in ``tmp/`` that says who writes it: ``<prefix>.<host>.<token>.<nonce>.tmp``."""
    host, token = me()
    return f"{prefix}.{host}.{token}.{ids.nonce(3)}.tmp"


def temp_holder(name: str) -> Holder | None:
    """The writer of a temp file named by ``temp_name``, or None for any other name."""
    parts = name.split(".")
    if len(parts) != 5 or parts[-1] != "tmp":
        return None
    return holder_of(parts[1], parts[2])
