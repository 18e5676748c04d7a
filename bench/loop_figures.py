"""Figures of ``@labtasker.loop()`` with a no-op job, run in child processes."""

from __future__ import annotations

import json
import subprocess
import sys

from bench.raw import Limits
from bench.table import Row, fmt_fraction, fmt_rate, judged, rate
from bench.workdir import Project


def run_workers(project: Project, count: int) -> tuple[float, list[dict[str, float]]]:
    """Start ``count`` loop processes together; (tasks per second overall, each one's report)."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.child", "loop"],
            cwd=project.folder,
            env=project.env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    for proc in procs:  # every worker has imported everything before any starts
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if line.strip() != "ready":
            raise RuntimeError(f"a loop worker failed to start: {line!r}")
    for proc in procs:
        proc.stdin.write("go\n")  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]
    reports = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"a loop worker failed with exit code {proc.returncode}")
        reports.append(json.loads(out.strip().splitlines()[-1]))
    tasks = sum(r["tasks"] for r in reports)
    span = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    return rate(tasks, span), reports


def loop_rows(one: Project, four: Project, n: int, limits: Limits) -> list[Row]:
    """One worker, then four processes, over ``n`` tasks each."""
    limit, (one_rate, _) = limits.around(limits.durable, lambda: run_workers(one, 1))
    four_rate, _ = run_workers(four, 4)
    return [
        Row(
            "no-op `@labtasker.loop()`, 1 worker",
            n,
            fmt_rate(one_rate),
            fmt_fraction(one_rate, limit, "raw durable write"),
            ">= 0.3 of raw durable write",
            judged(n, one_rate / limit >= 0.3),
            one_rate,
        ),
        Row(
            "no-op `@labtasker.loop()`, 4 processes",
            n,
            fmt_rate(four_rate),
            f"{four_rate / one_rate:.2f}x one worker",
            "faster than one worker",
            judged(n, four_rate > one_rate),
            four_rate,
        ),
    ]


def memory_rows(project: Project, n: int) -> list[Row]:
    """Peak resident memory of one worker looping over every task of a big queue."""
    per_s, reports = run_workers(project, 1)
    report = reports[0]
    peak_mb = report["maxrss_kb"] / 1024
    ready = report.get("rss_ready_kb")
    start = f"{ready / 1024:.0f} MB after imports; " if ready else ""
    return [
        Row(
            "peak memory of a no-op loop",
            int(report["tasks"]),
            f"{peak_mb:.0f} MB",
            f"{start}ran at {fmt_rate(per_s)}",
            "< 100 MB",
            peak_mb < 100,
            peak_mb,
        )
    ]
