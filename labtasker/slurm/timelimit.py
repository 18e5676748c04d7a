"""A Slurm job's end time, and which tasks still fit before it; pure (``now`` is given).

A worker near its time limit must not take a task it cannot finish: Slurm
would stop it half-way. A task's expected length is its ``eta_max`` (the
loop's, else the task's own ``task_timeout``); a task with neither is taken,
since nothing says it would not fit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

_LEFT = re.compile(r"^(?:(\d+)-)?(?:(\d+):)?(?:(\d+):)?(\d+)$")


def parse_time_left(text: str) -> float | None:
    """Seconds in squeue's ``%L`` (``1-02:03:04``, ``2:03:04``, ``3:04``, ``45``); None when
    there is no limit (``UNLIMITED``, ``NOT_SET``, ``INVALID``) or the text is not a time."""
    text = text.strip()
    match = _LEFT.match(text)
    if match is None:
        return None
    days, a, b, c = match.groups()
    parts = [int(p) for p in (a, b, c) if p is not None]  # [h, m, s], [m, s] or [s]
    if days is not None and len(parts) == 1:
        parts = [parts[0], 0, 0]  # "1-02" means days and hours
    while len(parts) < 3:
        parts.insert(0, 0)
    h, m, s = parts
    return float(int(days or 0) * 86400 + h * 3600 + m * 60 + s)


def job_end(env: Mapping[str, str], now: datetime, time_left: Callable[[str], str | None]) -> datetime | None:
    """When the Slurm job this process runs in reaches its time limit; None outside Slurm or
    without a limit. ``SLURM_JOB_END_TIME`` (newer Slurm) is used when set; else
    ``time_left(job_id)`` gives squeue's ``%L`` for the job."""
    job_id = env.get("SLURM_JOB_ID")
    if not job_id:
        return None
    end = env.get("SLURM_JOB_END_TIME", "")
    if end.isdigit() and int(end) > 0:
        return datetime.fromtimestamp(int(end), tz=now.tzinfo)
    left = time_left(job_id)
    seconds = parse_time_left(left) if left else None
    return None if seconds is None else now + timedelta(seconds=seconds)


def expected_length(doc: Mapping[str, Any], loop_eta: float | None) -> float | None:
    """How long a run of this task may take: the loop's eta_max, else the task's task_timeout."""
    if loop_eta:
        return float(loop_eta)
    own = doc.get("task_timeout")
    return float(own) if isinstance(own, (int, float)) and not isinstance(own, bool) and own > 0 else None


def fits(doc: Mapping[str, Any], loop_eta: float | None, grace: float, end: datetime, now: datetime) -> bool:
    """Whether a run of the task (and its grace period) ends before ``end``."""
    length = expected_length(doc, loop_eta)
    if length is None:
        return True
    return now + timedelta(seconds=length + grace) <= end
