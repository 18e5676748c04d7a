"""What the task table shows: columns, cells and sort keys; pure, ``now`` given.

A column turns a document into a cell (a short string) and a sort key. Which
columns a view has depends on its state and on the documents in it: the args
that vary between the tasks shown ("key args"), the numeric summary metrics
they report, and an error column when some task has one.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from labtasker.filters.field_paths import flatten
from labtasker.fsqueue import error_record

Doc = dict[str, Any]
MAX_KEY_ARGS = 4
MAX_METRICS = 3
HIDDEN_METRICS = ("labtasker_exception",)  # the runner's traceback record, not a metric
MARK = "✓"
ARGS_WIDTH = 34


@dataclass(frozen=True)
class Column:
    """One table column: a key, a header and how to get a cell and a sort key."""

    key: str
    label: str
    cell: Callable[[Doc], str]
    sort_key: Callable[[Doc], Any]
    numeric: bool = False


# ------------------------------------------------------------------ values
def lookup(doc: Doc, path: str) -> Any:
    """The value at a dotted path, or None."""
    node: Any = doc
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def fmt(value: Any) -> str:
    """A value as a short cell: floats to 4 significant digits, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {fmt(v)}" for k, v in value.items()) + "}"
    return str(value)


def sort_value(value: Any) -> tuple[int, Any]:
    """A key that orders numbers, then text, then missing values, without type errors."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return (3, 0)
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, datetime):
        return (1, value.timestamp())
    return (2, fmt(value))


def age(moment: Any, now: datetime) -> str:
    """Time from ``moment`` to ``now``, short: ``42s``, ``12m``, ``3h05m``, ``2d04h``."""
    if not isinstance(moment, datetime):
        return ""
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def since(doc: Doc) -> Any:
    """When a task entered its current state: running since it started, else its last change."""
    if doc.get("status") == "running" and doc.get("start_time"):
        return doc["start_time"]
    return doc.get("last_modified") or doc.get("finished_at") or doc.get("created_at") or doc.get("mtime")


def clip(text: str, width: int) -> str:
    """Cut a cell to ``width`` characters, showing that it was cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def short_id(task_id: Any) -> str:
    """The random tail of a task id (the head is a time stamp shared by a batch)."""
    text = str(task_id or "")
    return text if len(text) <= 12 else "…" + text[-8:]


# ------------------------------------------------------------------ choices
def key_args(docs: Sequence[Doc]) -> set[str]:
    """The arg paths whose values differ between the ``docs`` that have them."""
    values: dict[str, set[str]] = {}
    for doc in docs:
        for path, value in flatten(doc.get("args")).items():
            values.setdefault(path, set()).add(repr(value))
    return {path for path, seen in values.items() if len(seen) > 1}


def pick_metrics(docs: Iterable[Doc], limit: int = MAX_METRICS) -> list[str]:
    """The numeric top-level summary keys reported most often."""
    counts: Counter[str] = Counter()
    for doc in docs:
        summary = doc.get("summary")
        if not isinstance(summary, dict):
            continue
        for key, value in summary.items():
            if key not in HIDDEN_METRICS and _is_number(value):
                counts[key] += 1
    ranked = sorted(counts, key=lambda k: (-counts[k], k))
    return ranked[:limit]


def metric_path(name: str) -> str:
    """``acc`` or ``summary.acc`` -> ``summary.acc``."""
    name = name.strip()
    return name if name.startswith("summary.") else f"summary.{name}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_ABSENT = object()


# ------------------------------------------------------------------ columns
def field_column(
    key: str,
    label: str,
    path: str,
    *,
    numeric: bool = False,
    render: Callable[[Any], str] = fmt,
    width: int = 40,
) -> Column:
    """A column showing the value at a dotted path of the document (cut at ``width``)."""
    return Column(
        key,
        label,
        lambda d: clip(render(lookup(d, path)), width),
        lambda d: sort_value(lookup(d, path)),
        numeric,
    )


def args_column(key_paths: set[str]) -> Column:
    """A task's key args as ``lr=0.01 model=vit`` (all its args if none of them is key)."""

    def shown(doc: Doc) -> list[tuple[str, Any]]:
        flat = flatten(doc.get("args"))
        key = [(p, v) for p, v in flat.items() if p in key_paths]
        return (key or list(flat.items()))[:MAX_KEY_ARGS]

    def cell(doc: Doc) -> str:
        return clip(" ".join(f"{p}={fmt(v)}" for p, v in shown(doc)), ARGS_WIDTH)

    def sort_key(doc: Doc) -> Any:
        return tuple((p, sort_value(v)) for p, v in shown(doc))

    return Column("args", "args", cell, sort_key)


def task_columns(
    state: str, docs: Sequence[Doc], now: datetime, metrics: Sequence[str] | None = None
) -> list[Column]:
    """The columns of a task state's table for these documents; what tells tasks apart first."""
    chosen = (
        [metric_path(m) for m in metrics]
        if metrics is not None
        else [f"summary.{k}" for k in pick_metrics(docs)]
    )
    cols = [
        field_column("name", "name", "task_name", width=20),
        field_column("id", "id", "task_id", render=short_id),
        args_column(key_args(docs)),
        *(field_column(p, p.split(".", 1)[1], p, numeric=True) for p in chosen),
    ]
    if any(d.get("last_error") for d in docs):
        cols.append(
            Column(
                "error",
                "error",
                lambda d: clip(error_record.headline(d.get("last_error")), 48),
                lambda d: sort_value(error_record.headline(d.get("last_error")) or None),
            )
        )
    if state == "attempts":
        cols += [field_column("status", "status", "status"), field_column("reason", "reason", "reason")]
    else:
        cols += [
            field_column("priority", "prio", "priority", numeric=True),
            Column(
                "retries",
                "retries",
                lambda d: f"{d.get('retries') or 0}/{d.get('max_retries') or 0}",
                lambda d: sort_value(d.get("retries")),
                True,
            ),
        ]
    cols += [
        field_column("worker", "worker", "worker_id", width=18),
        Column("age", "age", lambda d: age(since(d), now), lambda d: sort_value(since(d)), True),
    ]
    return cols


def quarantine_columns(now: datetime) -> list[Column]:
    """Columns for files moved to ``quarantine/``: they are not readable documents."""
    return [
        field_column("file", "file", "file"),
        field_column("size", "bytes", "size", numeric=True),
        Column("age", "age", lambda d: age(d.get("mtime"), now), lambda d: sort_value(d.get("mtime")), True),
    ]


def sort_docs(docs: list[Doc], columns: Sequence[Column], key: str | None, reverse: bool) -> list[Doc]:
    """Docs ordered by a column (missing values last either way); unchanged if no such column."""
    column = next((c for c in columns if c.key == key), None)
    if column is None:
        return docs
    present = [d for d in docs if column.sort_key(d)[0] != 3]
    missing = [d for d in docs if column.sort_key(d)[0] == 3]
    return sorted(present, key=column.sort_key, reverse=reverse) + missing
