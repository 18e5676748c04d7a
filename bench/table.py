"""Rows of results and the Markdown table they print as."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass


@dataclass
class Row:
    """One figure at one size: the value, how it compares with the limit, and its target."""

    figure: str
    tasks: int | None
    result: str
    versus: str = ""
    target: str = ""
    met: bool | None = None
    value: float | None = None  # the number behind ``result``, for --json


# A rate's target is judged from this many tasks: on fewer, a process's start, a loop's first
# listing and its worker's registration weigh in, and ``--quick`` is a smoke test.
JUDGED_FROM = 1000


def judged(n: int, met: bool | None) -> bool | None:
    """``met`` for a target on a rate, or None (not judged) below ``JUDGED_FROM`` tasks."""
    return met if n >= JUDGED_FROM else None


def rate(n: float, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def fmt_rate(per_s: float, unit: str = "tasks/s") -> str:
    return f"{per_s:,.0f} {unit}"


def fmt_fraction(value: float, limit: float, name: str) -> str:
    return f"{value / limit:.2f} of {name} ({limit:,.0f}/s)"


def size_label(n: int | None) -> str:
    if n is None:
        return ""
    for power in range(2, 8):
        if n == 10**power:
            return f"10^{power}"
    return f"{n:,}"


def render(rows: list[Row]) -> str:
    """The table as Markdown."""
    head = ["figure", "tasks", "result", "vs. the limit", "target", "met"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        if r.met is not None:
            met = "yes" if r.met else "**no**"
        elif r.target and r.tasks is not None and r.tasks < JUDGED_FROM:
            met = f"not below {size_label(JUDGED_FROM)} tasks"
        else:
            met = ""
        cells = [r.figure, size_label(r.tasks), r.result, r.versus, r.target, met]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def to_json(rows: list[Row], machine: dict[str, str]) -> str:
    return json.dumps({"machine": machine, "rows": [asdict(r) for r in rows]}, indent=2)


class Progress:
    """Progress lines on stderr, so stdout carries only the table."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.start = time.perf_counter()

    def say(self, text: str) -> None:
        if not self.quiet:
            print(f"[{time.perf_counter() - self.start:6.1f}s] {text}", file=sys.stderr, flush=True)
