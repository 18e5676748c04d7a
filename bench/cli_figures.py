"""Figures of the ``labtasker`` command line: per-call latency and bulk submit from a file."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.raw import Limits
from bench.table import Row, fmt_fraction, fmt_rate, judged, rate
from bench.workdir import Project, Workdir, task_spec


def labtasker_cmd() -> list[str] | None:
    """The ``labtasker`` console script next to this Python, if installed."""
    script = Path(sys.executable).parent / "labtasker"
    return [str(script)] if script.exists() else None


def timed_call(argv: list[str], project: Project) -> float:
    """Seconds one command takes, start to exit; raises if it fails."""
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=project.folder, env=project.env(), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    return seconds


def latency(argv: list[str], project: Project, repeat: int) -> float:
    """Median seconds per call over ``repeat`` calls (after one untimed call warms the page cache)."""
    timed_call(argv, project)
    return statistics.median(timed_call(argv, project) for _ in range(repeat))


TARGET_MS = 50  # a command's own start-up and work, beyond the interpreter's (issue #17)


def latency_rows(
    cmd: list[str], small: Project, big: Project | None, big_n: int, small_n: int, repeat: int
) -> list[Row]:
    """``task submit`` and ``task ls -q`` beside a bare ``python -c pass``."""
    bare = latency([sys.executable, "-c", "pass"], small, repeat)
    rows = [
        Row("bare `python -c pass`", None, f"{bare * 1e3:.0f} ms/call", "interpreter start-up", value=bare)
    ]
    calls = [
        ("`labtasker task submit -- --x=1`", [*cmd, "task", "submit", "--", "--x=1"], small, small_n, True),
        ("`labtasker task ls -q`", [*cmd, "task", "ls", "-q"], small, small_n, True),
    ]
    if big is not None:
        calls += [
            ("`labtasker task ls -q`", [*cmd, "task", "ls", "-q"], big, big_n, False),
            ("`labtasker task count`", [*cmd, "task", "count"], big, big_n, False),
        ]
    for label, argv, project, n, has_target in calls:
        seconds = latency(argv, project, repeat)
        extra = seconds - bare
        target, met = (
            (f"<= python start + {TARGET_MS} ms", extra <= TARGET_MS / 1e3) if has_target else ("", None)
        )
        rows.append(
            Row(
                label,
                n,
                f"{seconds * 1e3:.0f} ms/call",
                f"python start + {extra * 1e3:.0f} ms",
                target,
                met,
                seconds,
            )
        )
    return rows


def bulk_row(
    cmd: list[str], work: Workdir, limits: Limits, n: int, one_by_one: float | None
) -> tuple[Row, Project]:
    """``labtasker task submit --from-file`` of ``n`` JSON lines, process start included."""
    project = work.project(f"cli-bulk-{n}")
    sweep = project.folder / "sweep.jsonl"
    sweep.write_text("".join(json.dumps(task_spec(i)) + "\n" for i in range(n)), encoding="utf-8")
    argv = [*cmd, "task", "submit", "--from-file", str(sweep), "-q"]
    limit, seconds = limits.around(limits.batch, lambda: timed_call(argv, project))
    per_s = rate(n, seconds)
    met = judged(n, None if one_by_one is None else per_s > one_by_one)
    return Row(
        "`labtasker task submit --from-file` (bulk)",
        n,
        fmt_rate(per_s),
        fmt_fraction(per_s, limit, "raw batched durable write"),
        "faster than `submit_task`",
        met,
        per_s,
    ), project
