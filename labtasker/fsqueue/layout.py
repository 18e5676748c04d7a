"""Names of directories and files in a queue; pure, no I/O.

The directory a task file sits in is its status. File names carry what a
reader needs without opening the file: the claim order in ``pending/``, the
owner in ``running/``, the writing node in terminal states (so two nodes that
finish the same task offline never write the same path).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from enum import Enum

SEP = "--"
SUFFIX = ".yaml"
RESERVED = "r."  # prefix of pending names set aside for one node (``task reserve``)
PRIORITY_MIN = -99_999_999
PRIORITY_MAX = 99_999_999
_PRIORITY_OFFSET = 100_000_000  # inverted, zero padded: higher priority sorts first


class TaskStatus(str, Enum):
    """A task's status; each maps to one state directory."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def dirname(self) -> str:
        return STATE_DIRS[self]


STATE_DIRS = {
    TaskStatus.PENDING: "pending",
    TaskStatus.RUNNING: "running",
    TaskStatus.SUCCESS: "done",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "cancelled",
}
TERMINAL = (TaskStatus.SUCCESS, TaskStatus.FAILED, TaskStatus.CANCELLED)
OTHER_DIRS = ("attempts", "workers", "deleted", "tmp", "quarantine")
ALL_DIRS = tuple(STATE_DIRS.values()) + OTHER_DIRS


def parse_status(value: str | TaskStatus) -> TaskStatus:
    """Accept a status name (or ``done``, the directory of ``success``)."""
    if isinstance(value, TaskStatus):
        return value
    text = str(value).strip().lower()
    if text == "done":
        return TaskStatus.SUCCESS
    try:
        return TaskStatus(text)
    except ValueError:
        names = ", ".join(s.value for s in TaskStatus)
        raise ValueError(f"unknown status {value!r}: use one of {names}") from None


def is_task_file(name: str) -> bool:
    """True for names readers consider; skips temp files, dotfiles, sync leftovers."""
    return (
        name.endswith(SUFFIX)
        and not name.startswith(".")
        and ".sync-conflict-" not in name
        and "(conflicted copy" not in name
        and not name.endswith("~")
    )


_RESERVED_KEY = re.compile(r"^r\.(.+)\.(\d{9}\.\d{8}T\d{12}Z)$")


def original_of_copy(name: str) -> str:
    """The file name an alternate copy stands for (``x.yaml~`` -> ``x.yaml``)."""
    name = _SYNCTHING.sub("", name)
    name = _DROPBOX.sub("", name)
    cut = name.find(SUFFIX + "~")
    if cut < 0:
        cut = name.find(SUFFIX + ".~")
    return name[: cut + len(SUFFIX)] if cut >= 0 else name


_SYNCTHING = re.compile(r"\.sync-conflict-[^.]*")
_DROPBOX = re.compile(r" \([^)]*conflicted copy[^)]*\)")


def stamp(ts: datetime) -> str:
    """A fixed-width, sortable, file-name-safe UTC timestamp."""
    return ts.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def sortkey(priority: int, last_modified: datetime) -> str:
    """Priority descending, then least recently modified first."""
    priority = max(PRIORITY_MIN, min(PRIORITY_MAX, int(priority)))
    return f"{_PRIORITY_OFFSET - priority:09d}.{stamp(last_modified)}"


def pending_name(
    priority: int, last_modified: datetime, task_id: str, reserved_for: str | None = None
) -> str:
    """``<sortkey>--<id>.yaml``; a task set aside for one node starts ``r.<node>.`` (sorts last)."""
    key = sortkey(priority, last_modified)
    if reserved_for:
        key = f"{RESERVED}{reserved_for}.{key}"
    return f"{key}{SEP}{task_id}{SUFFIX}"


def reserved_for(name: str) -> str | None:
    """The node a pending file name is reserved for, or None."""
    if not name.startswith(RESERVED):
        return None
    match = _RESERVED_KEY.match(name.split(SEP, 1)[0])
    return match.group(1) if match else None


def is_alternate_copy(name: str) -> bool:
    """A second copy of a file left by a sync tool or a backup: ``x.yaml~``, ``x.yaml.~2~``,
    ``x.sync-conflict-<...>.yaml`` (Syncthing), ``x (conflicted copy ...).yaml`` (Dropbox)."""
    if name.startswith(".") or name.endswith(".tmp"):
        return False
    if ".sync-conflict-" in name or "(conflicted copy" in name:
        return name.endswith(SUFFIX)
    return SUFFIX + "~" in name or SUFFIX + ".~" in name


def running_name(task_id: str, worker_id: str) -> str:
    return f"{task_id}{SEP}{worker_id}{SUFFIX}"


def terminal_name(task_id: str, node: str) -> str:
    return f"{task_id}{SEP}{node}{SUFFIX}"


def attempt_name(task_id: str, worker_id: str, nonce: str) -> str:
    return f"{task_id}{SEP}{worker_id}{SEP}{nonce}{SUFFIX}"


def task_id_of(dirname: str, name: str) -> str:
    """The task id encoded in a file name of a state directory."""
    parts = name[: -len(SUFFIX)].split(SEP)
    if dirname == "pending":
        return parts[-1]
    return parts[0]


def worker_of_running(name: str) -> str:
    """The worker id encoded in a ``running/`` file name."""
    parts = name[: -len(SUFFIX)].split(SEP)
    return parts[1] if len(parts) > 1 else ""


def held_name(dirname: str, name: str, host: str, token: str) -> str:
    """Name of a file taken into ``tmp/``: where it came from, who holds it, and its name there.

    The holder (``fsqueue/held.py``) is a host key and a process token, never
    a time: whether a holder died is asked of the kernel on its own host, and
    judged on the filesystem's clock elsewhere.
    """
    return f"held.{dirname}.{host}.{token}.{name}"


def parse_held(name: str) -> tuple[str, str, str, str] | None:
    """(origin directory, host, token, original name) of a held file, or None."""
    parts = name.split(".", 4)
    if len(parts) != 5 or parts[0] != "held" or not parts[4].endswith(SUFFIX):
        return None
    return parts[1], parts[2], parts[3], parts[4]


def status_value(dirname: str) -> str:
    """The status name of a state directory (``done`` -> ``success``)."""
    return {d: s.value for s, d in STATE_DIRS.items()}[dirname]
