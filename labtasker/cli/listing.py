"""``--fmt`` of every listing command: a table, or records as yaml, json, jsonl or csv.

A listing hands over plain records (dicts) and, for the table, rows of cells;
this module turns them into lines. Dotted paths (``args.lr``) pick values out
of records for ``-c/--columns`` and for csv.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

from plumbum import cli

from labtasker.cli import output

FORMATS = ("table", "yaml", "json", "jsonl", "csv")
MISSING = object()


def fmt_switch(default: str = "table") -> Any:
    """The ``--fmt`` switch of a listing command."""
    return cli.SwitchAttr(
        ["--fmt"],
        cli.Set(*FORMATS),
        default=default,
        argname="FORMAT",
        help="table, yaml, json (one list), jsonl (one object per line) or csv",
    )


def wide_switch() -> Any:
    return cli.Flag(["-w", "--wide"], help="Show every cell whole instead of cutting it to the terminal")


def lines(fmt: str, records: Sequence[dict[str, Any]], columns: Sequence[str] = ()) -> Iterable[str]:
    """Records in a format other than table (csv: ``columns``, else every leaf of the records)."""
    if fmt == "jsonl":
        return output.jsonl(records)
    if fmt == "json":
        import json

        text = json.dumps([output.plain(r) for r in records], ensure_ascii=False, indent=2, default=str)
        return iter(text.splitlines())
    if fmt == "csv":
        return csv_lines(records, list(columns) or leaf_paths(records))
    return output.yaml_docs(records)


def yaml_mapping(record: dict[str, Any]) -> Iterable[str]:
    """One record as a YAML mapping (for a command that shows one thing)."""
    import yaml

    text = yaml.safe_dump(output.plain(record), sort_keys=False, allow_unicode=True, width=100)
    return iter(text.splitlines())


def csv_lines(records: Sequence[dict[str, Any]], columns: list[str]) -> Iterable[str]:
    """A header line, then one line per record; containers as JSON, nothing as an empty cell."""
    import csv  # only for --fmt csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow([_csv_cell(pick(record, c)) for c in columns])
    return iter(buffer.getvalue().splitlines())


def _csv_cell(value: Any) -> Any:
    if value is MISSING or value is None:
        return ""
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(output.plain(value), ensure_ascii=False)
    return output.plain(value)


def leaf_paths(records: Sequence[dict[str, Any]]) -> list[str]:
    """Every dotted path to a value in the records: fields in the order first seen, each
    field's inner paths together (``args.lr``, ``args.model``, then ``error``)."""
    by_field: dict[str, dict[str, None]] = {}
    for record in records:
        for key, value in record.items():
            paths = by_field.setdefault(key, {})
            for path in _leaves({key: value}, ""):
                paths.setdefault(path)
    return [path for paths in by_field.values() for path in paths]


def _leaves(value: dict[str, Any], prefix: str) -> Iterable[str]:
    for key, item in value.items():
        path = f"{prefix}{key}"
        if isinstance(item, dict) and item:
            yield from _leaves(item, path + ".")
        else:
            yield path


def pick(record: dict[str, Any], path: str) -> Any:
    """The value at a dotted path (``MISSING`` when there is none)."""
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


def cell(value: Any) -> str:
    """A table cell: ``-`` for nothing or a missing field."""
    return "-" if value is MISSING else output.compact(value)


def parse_columns(text: str) -> list[str]:
    """``args.lr,args.model, summary.acc`` -> the paths, blanks dropped."""
    return [part.strip() for part in text.split(",") if part.strip()]
