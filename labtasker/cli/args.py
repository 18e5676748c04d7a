"""Parsing what users type: task args after ``--``, ``field=value`` updates, dict options; pure.

Values are typed the way a person means them: ``1`` is an int, ``0.5`` a
float, ``True``/``true`` a bool, ``None``/``null`` nothing, ``[1, 2]`` a list,
``{"a": 1}`` a dict; anything else stays the exact string typed
(``hello world``, ``-1e-3x``, the empty string).
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any

from labtasker.errors import UsageError

_KEY = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
_OPTION = re.compile(r"^--?([A-Za-z_][A-Za-z0-9_.-]*)(?:=(.*))?$", re.DOTALL)
_NUMBER = re.compile(r"^-?(\d|\.\d)")


def parse_value(text: str) -> Any:
    """The typed value of a string: JSON, then a Python literal, else the string itself."""
    if text == "" or text != text.strip():
        return text  # keep empty and space-padded values exactly as typed
    import json  # here: `task ls` and most commands parse no value

    try:
        value = json.loads(text)
    except ValueError:
        pass
    else:
        return text if isinstance(value, float) and not math.isfinite(value) else value
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    return value if _storable(value) else text


def _storable(value: Any) -> bool:
    """Only values a task file can hold: no tuples, sets, bytes or complex numbers."""
    if isinstance(value, dict):
        # int keys are stored as strings, as JSON writes them (model.expand)
        return all(isinstance(k, (str, int)) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(v) for v in value)
    return value is None or isinstance(value, (str, bool, int, float))


def parse_task_args(tokens: list[str]) -> dict[str, Any]:
    """Task args from ``--key=value`` / ``--key value`` tokens; dotted keys nest.

    A key with no value (``--use-amp`` last, or before another ``--key``) is
    True. Dashes in key names become underscores, as argparse does, so
    ``--batch-size=32`` is ``args["batch_size"]``.
    """
    flat: dict[str, Any] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        match = _OPTION.match(token) if token.startswith("-") and not _NUMBER.match(token) else None
        if match is None:
            raise UsageError(
                f"unexpected task argument {token!r}: write task args as --key=value or --key value"
            )
        key, value = match.group(1).replace("-", "_"), match.group(2)
        if value is None:
            following = tokens[i + 1] if i + 1 < len(tokens) else None
            if following is not None and (not following.startswith("-") or _NUMBER.match(following)):
                value = following
                i += 1
        if key in flat:
            raise UsageError(f"task argument --{key} is given twice")
        flat[key] = True if value is None else parse_value(value)
        i += 1
    return nest(flat, "task argument")


def nest(flat: dict[str, Any], what: str) -> dict[str, Any]:
    """``{"a.b": 1, "a.c": 2}`` -> ``{"a": {"b": 1, "c": 2}}``; clashes are errors."""
    out: dict[str, Any] = {}
    for path, value in flat.items():
        check_path(path, what)
        *parents, leaf = path.split(".")
        node = out
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise UsageError(f"{what} {path!r} clashes with the value given for {part!r}")
            node = child
        if leaf in node:
            raise UsageError(f"{what} {path!r} clashes with another argument of the same name")
        node[leaf] = value
    return out


def check_path(path: str, what: str) -> str:
    """A dotted key path of letters, digits, ``_`` and ``-``."""
    if not _KEY.match(path):
        raise UsageError(
            f"invalid {what} {path!r}: keys use letters, digits, '_' and '-', and '.' nests (a.b)"
        )
    return path


def parse_dict(text: str, option: str) -> dict[str, Any]:
    """A ``--metadata``/``--args`` value: a JSON object or a Python dict literal."""
    import json

    try:
        value = json.loads(text)
    except ValueError:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise UsageError(
                f"{option} is not a JSON object or a Python dict: {text!r} "
                f'(write e.g. {option} \'{{"tags": ["v1"]}}\')'
            ) from None
    if not isinstance(value, dict) or not _storable(value):
        raise UsageError(f"{option} must be a dict of plain values, e.g. {option} '{{\"key\": 1}}'")
    return value


def parse_assignment(text: str) -> tuple[str, Any]:
    """``field.path=value`` -> (path, typed value); dashes in the path are underscores."""
    path, sep, raw = text.partition("=")
    path = path.strip().replace("-", "_")  # task-name=x is task_name=x, as for task args
    if not sep or not path:
        raise UsageError(f"invalid update {text!r}: write field=value, e.g. -u 'args.lr=0.01'")
    check_path(path, "field")
    return path, parse_value(raw)
