"""The results table of a sweep: the args that vary against the summary metrics; pure.

A row is one task, or with ``over`` one group of tasks that differ only in
the ``over`` args (seeds, say), whose metrics are a mean, a sample standard
deviation (n - 1, as pandas) and a count. Nothing here reads a file or the clock.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from labtasker.errors import UsageError
from labtasker.filters import sorting
from labtasker.filters.field_paths import FIELDS, flatten

Doc = Mapping[str, Any]
HIDDEN_METRICS = frozenset({"labtasker_exception"})  # the runner's error record, not a metric


@dataclass(frozen=True)
class Stat:
    """A metric over a group: mean, sample std (None for one value) and how many values."""

    mean: float | None
    std: float | None
    n: int


@dataclass(frozen=True)
class Row:
    """One line of the table: its args, its metrics (numbers, or ``Stat`` when grouped), its tasks."""

    args: dict[str, Any]
    metrics: dict[str, Any]
    task_ids: tuple[str, ...]

    def value(self, name: str) -> Any:
        """An arg or metric by name; a group's metric gives its mean."""
        if name in self.args:
            return self.args[name]
        value = self.metrics.get(name)
        return value.mean if isinstance(value, Stat) else value


@dataclass(frozen=True)
class Table:
    """Rows with the arg and metric columns they show; ``over`` is set when rows are groups."""

    args: tuple[str, ...]
    metrics: tuple[str, ...]
    rows: tuple[Row, ...]
    over: tuple[str, ...] = field(default=())

    @property
    def grouped(self) -> bool:
        return bool(self.over)

    @property
    def count_name(self) -> str:
        """The column of a group's size: ``n``, unless an arg or metric already has that name."""
        taken = {*self.args, *self.metrics, *(f"{m}_{s}" for m in self.metrics for s in ("mean", "std"))}
        name = "n"
        while name in taken:
            name = f"{name}_runs" if name == "n" else f"_{name}"
        return name

    def records(self, *, ids: bool = True) -> list[dict[str, Any]]:
        """Flat records: args then metrics (``acc_mean``, ``acc_std`` and ``n`` for groups)."""
        out = []
        for row in self.rows:
            record: dict[str, Any] = dict(row.args)
            if self.grouped:
                record[self.count_name] = len(row.task_ids)
                for name in self.metrics:
                    stat = row.metrics.get(name) or Stat(None, None, 0)
                    record[f"{name}_mean"] = stat.mean
                    record[f"{name}_std"] = stat.std
                if ids:
                    record["task_ids"] = list(row.task_ids)
            else:
                record.update({name: row.metrics.get(name) for name in self.metrics})
                if ids:
                    record["task_id"] = row.task_ids[0]
            out.append(record)
        return out


# ------------------------------------------------------------------ values
def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _key(value: Any) -> str:
    """A hashable stand-in for any YAML value (1 and 1.0 stay apart, as YAML shows them)."""
    return json.dumps(value, sort_keys=True, default=str) + type(value).__name__


def stat(values: Sequence[Any]) -> Stat:
    """Mean and sample standard deviation of the values that are numbers (NaN skipped)."""
    numbers = [float(v) for v in values if is_number(v) and not math.isnan(v)]
    if not numbers:
        return Stat(None, None, 0)
    mean = math.fsum(numbers) / len(numbers)
    if len(numbers) < 2:
        return Stat(mean, None, len(numbers))
    var = math.fsum((v - mean) ** 2 for v in numbers) / (len(numbers) - 1)
    return Stat(mean, math.sqrt(var), len(numbers))


# ----------------------------------------------------------------- columns
def arg_names(docs: Sequence[Doc]) -> list[str]:
    """Every flat arg name, in order of first appearance."""
    names: dict[str, None] = {}
    for doc in docs:
        names.update(dict.fromkeys(flatten(doc.get("args"))))
    return list(names)


def varying_args(docs: Sequence[Doc]) -> list[str]:
    """The args whose values differ between the tasks (absent counts as a value); all when none do."""
    flat = [flatten(doc.get("args")) for doc in docs]
    names = arg_names(docs)
    varying = [n for n in names if len({_key(f.get(n)) if n in f else "" for f in flat}) > 1]
    return varying or names


def numeric_metrics(docs: Sequence[Doc]) -> list[str]:
    """The summary fields that are numbers in some task, in order of first appearance."""
    names: dict[str, None] = {}
    for doc in docs:
        for name, value in flatten(doc.get("summary")).items():
            if is_number(value) and name.split(".")[0] not in HIDDEN_METRICS:
                names[name] = None
    return list(names)


def _bare(name: str, top: str) -> str:
    name = name.strip()
    return name[len(top) + 1 :] if name.startswith(top + ".") else name


def parse_names(text: str | Sequence[str] | None) -> list[str]:
    """``"acc,loss"`` or ``["acc", "loss"]`` -> names (``summary.``/``args.`` prefixes kept for later)."""
    if text is None:
        return []
    parts = text.split(",") if isinstance(text, str) else [p for t in text for p in t.split(",")]
    return [p.strip() for p in parts if p.strip()]


def _pick(asked: Sequence[str], known: Sequence[str], top: str, what: str) -> list[str]:
    picked = []
    for name in asked:
        bare = _bare(name, top)
        if bare not in known:
            choices = ", ".join(known) or "none"
            raise UsageError(f"no task in the selection has {what} {bare!r} (there are: {choices})")
        picked.append(bare)
    return picked


# -------------------------------------------------------------------- build
def build(
    docs: Iterable[Doc],
    *,
    metrics: str | Sequence[str] | None = None,
    over: str | Sequence[str] | None = None,
    sort: str | Sequence[str] | None = None,
    best: int | None = None,
) -> Table:
    """The table of ``docs``: rows best first by ``sort``, grouped ``over`` some args, top ``best``."""
    docs = sorted(docs, key=lambda d: str(d.get("task_id", "")))  # ids are time-ordered
    names = arg_names(docs)
    over_names = _pick(parse_names(over), names, "args", "an arg") if over else []
    shown = [n for n in varying_args(docs) if n not in over_names]
    wanted = parse_names(metrics)
    metric_names = _pick(
        wanted, list(dict.fromkeys(numeric_metrics(docs) + _other_metrics(docs))), "summary", "a metric"
    )
    if not wanted:
        metric_names = numeric_metrics(docs)
    if over_names:
        rows = _group(docs, names, shown, metric_names, over_names)
    else:
        rows = _singles(docs, shown, metric_names)
    if best is not None and not sort:
        raise UsageError("--best needs --sort to say what is best, e.g. --sort acc:desc or --sort loss:asc")
    rows = _sorted(rows, shown, metric_names, sort)
    if best is not None:
        rows = rows[:best]
    return Table(tuple(shown), tuple(metric_names), tuple(rows), tuple(over_names))


def _other_metrics(docs: Sequence[Doc]) -> list[str]:
    """Summary fields that are not numbers: shown when asked for by name."""
    names: dict[str, None] = {}
    for doc in docs:
        names.update(dict.fromkeys(k for k in flatten(doc.get("summary")) if k not in HIDDEN_METRICS))
    return list(names)


def _singles(docs: Sequence[Doc], shown: list[str], metrics: list[str]) -> list[Row]:
    rows = []
    for doc in docs:
        args, summary = flatten(doc.get("args")), flatten(doc.get("summary"))
        rows.append(
            Row(
                {n: args.get(n) for n in shown},
                {m: summary.get(m) for m in metrics},
                (str(doc.get("task_id")),),
            )
        )
    return rows


def _group(
    docs: Sequence[Doc], names: list[str], shown: list[str], metrics: list[str], over: list[str]
) -> list[Row]:
    """Tasks alike in every arg but the ``over`` ones, as one row each."""
    groups: dict[tuple[str, ...], list[Doc]] = {}
    for doc in docs:
        args = flatten(doc.get("args"))
        key = tuple(_key(args[n]) if n in args else "-" for n in names if n not in over)
        groups.setdefault(key, []).append(doc)
    rows = []
    for members in groups.values():
        args = flatten(members[0].get("args"))
        flats = [flatten(m.get("summary")) for m in members]
        rows.append(
            Row(
                {n: args.get(n) for n in shown},
                {m: stat([f.get(m) for f in flats]) for m in metrics},
                tuple(str(m.get("task_id")) for m in members),
            )
        )
    return rows


def _sorted(rows: list[Row], shown: list[str], metrics: list[str], sort: Any) -> list[Row]:
    """Rows by the sort spec (``acc:desc`` is short for ``summary.acc:desc``), ties (or all) by their args."""
    spec = tuple(sorting.SortKey(("args", *n.split("."))) for n in shown)
    if sort:
        spec = sorting.parse_sort([_full_sort(part, shown, metrics) for part in parse_names(sort)]) + spec
    by_id = {id(row): row for row in rows}
    docs = [_sort_doc(row, id(row)) for row in rows]
    return [by_id[d["_row"]] for d in sorting.sort_docs(docs, spec)]


def _full_sort(part: str, shown: list[str], metrics: list[str]) -> str:
    field, sep, direction = part.rpartition(":")
    if not sep:
        field, direction = part, ""
    top = field.split(".")[0]
    if top not in FIELDS:
        if field in metrics:
            field = "summary." + field
        elif field in shown:
            field = "args." + field
        else:  # a misspelt metric: name what the table has, not every task field
            raise UsageError(
                f"--sort {field}: not a metric or an arg of the table "
                f"(metrics: {', '.join(metrics) or 'none'}; args: {', '.join(shown) or 'none'})"
            )
    return field + (f":{direction}" if direction else "")


def _sort_doc(row: Row, key: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"_row": key, "task_id": row.task_ids[0], "args": {}, "summary": {}}
    for top, flat in (("args", row.args), ("summary", {m: row.value(m) for m in row.metrics})):
        for name, value in flat.items():
            node = doc[top]
            *parents, leaf = name.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
    return doc
