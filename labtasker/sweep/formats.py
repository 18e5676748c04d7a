"""A results table as text: cells for a terminal table, CSV, JSON, JSON lines, Markdown; pure."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from typing import Any

from labtasker.sweep.table import Stat, Table, is_number

FORMATS = ("table", "csv", "json", "jsonl", "markdown")


def cell(value: Any) -> str:
    """A value as a short cell: floats to 4 significant digits, a group's metric as mean ± std."""
    if isinstance(value, Stat):
        if value.mean is None:
            return "-"
        return cell(value.mean) + ("" if value.std is None else f" ± {value.std:.2g}")
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


def headers(table: Table, ids: bool = True) -> list[str]:
    """The columns a person sees: args, (n,) metrics, then (``ids``) the task id of single runs."""
    names = [*table.args, *([table.count_name] if table.grouped else []), *table.metrics]
    return names if table.grouped or not ids else [*names, "task_id"]


def cells(table: Table, ids: bool = True) -> list[list[str]]:
    """Each row as the cells under ``headers``."""
    out = []
    for row in table.rows:
        line = [cell(row.args.get(n)) for n in table.args]
        if table.grouped:
            line.append(str(len(row.task_ids)))
        line += [cell(row.metrics.get(m)) for m in table.metrics]
        if ids and not table.grouped:
            line.append(row.task_ids[0])
        out.append(line)
    return out


def numeric_columns(table: Table) -> list[bool]:
    """Which columns of ``headers(table, ids=False)`` hold numbers (right-aligned in Markdown)."""
    flags = [all(is_number(r.args.get(n)) or r.args.get(n) is None for r in table.rows) for n in table.args]
    return flags + [True] * ((1 if table.grouped else 0) + len(table.metrics))


def render(table: Table, fmt: str) -> Iterator[str]:
    """Lines of ``table`` in a machine format (``table`` itself is drawn by the CLI)."""
    if fmt == "csv":
        yield from to_csv(table).splitlines()
    elif fmt == "json":
        yield json.dumps(table.records(), indent=2, ensure_ascii=False, default=str)
    elif fmt == "jsonl":
        for record in table.records():
            yield json.dumps(record, ensure_ascii=False, default=str)
    elif fmt == "markdown":
        yield from markdown(table)
    else:
        raise ValueError(f"unknown format {fmt!r}")


def to_csv(table: Table) -> str:
    """CSV with a header line; numbers in full precision, empty for missing, task ids space-separated."""
    buffer = io.StringIO()
    records = table.records()
    names = list(records[0]) if records else headers(table)
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    for record in records:
        writer.writerow([_csv_value(record.get(n)) for n in names])
    return buffer.getvalue()


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " ".join(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value).lower() if isinstance(value, bool) else str(value)


def markdown(table: Table) -> Iterator[str]:
    """A GitHub-flavoured Markdown table, without task ids (pastes into an issue or a paper draft)."""
    names, rows = headers(table, ids=False), cells(table, ids=False)
    widths = [max([len(n), 3, *(len(r[i]) for r in rows)]) for i, n in enumerate(names)]
    right = numeric_columns(table)

    def line(values: list[str]) -> str:
        padded = [v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True)]
        return "| " + " | ".join(padded) + " |"

    yield line(names)
    yield (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if r else ("-" * (w + 2)) for w, r in zip(widths, right, strict=True)
        )
        + "|"
    )
    for row in rows:
        yield line([v.replace("|", "\\|") for v in row])
