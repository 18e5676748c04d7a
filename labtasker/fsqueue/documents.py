"""Task and worker documents: plain dicts as written to YAML; pure, no I/O.

A document is what a person sees with ``cat``. Besides the fields of the usage
document it carries ``rev`` (bumped on every write), ``gen`` (bumped on every
explicit user change: edit, cancel, re-queue) and ``node`` (the last writer),
which the merge rules of replicated queues need.
"""

from __future__ import annotations

import copy
import math
import re
from datetime import date, datetime
from typing import Any

from labtasker.fsqueue.layout import TaskStatus

KEY = re.compile(r"^[A-Za-z0-9_-]+$")

# The order fields appear in a task file; unknown fields follow.
TASK_FIELDS = (
    "task_id", "task_name", "status", "priority", "retries", "max_retries",
    "args", "metadata", "summary", "cmd", "created_at", "last_modified",
    "start_time", "last_heartbeat", "worker_id", "heartbeat_timeout",
    "task_timeout", "last_error", "retry_at", "reserved_for", "gen", "rev", "node",
)  # fmt: skip
DICT_FIELDS = ("args", "metadata", "summary")


def check_key(key: Any, where: str) -> str:
    """A key in args/metadata/summary: letters, digits, ``_`` and ``-``."""
    if not isinstance(key, str) or not KEY.match(key):
        raise ValueError(
            f"invalid key {key!r} in {where}: keys may use letters, digits, '_' and '-' "
            "(a '.' nests: 'a.b' means {'a': {'b': ...}})"
        )
    return key


def _json_key(key: Any, where: str) -> str:
    """A non-string key as JSON writes it (``0`` -> ``"0"``, True -> ``"true"``); others refused."""
    if key is None or isinstance(key, (bool, int)):
        import json

        return json.dumps(key)
    return check_key(key, where)  # a float's '.' would nest, a tuple has no text form: refused


def expand(mapping: Any, where: str) -> dict[str, Any]:
    """Validate a dict field and turn dotted keys into nested dicts."""
    if mapping is None:
        return {}
    if not isinstance(mapping, dict):
        raise ValueError(f"{where} must be a dict, not {type(mapping).__name__}")
    out: dict[str, Any] = {}
    for raw_key, value in mapping.items():
        if not isinstance(raw_key, str):
            raw_key = _json_key(raw_key, where)
        parts = raw_key.split(".")
        path = ".".join(check_key(p, where) for p in parts)
        value = _plain(value, f"{where}.{path}")
        node = out
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"key {raw_key!r} in {where} clashes with a non-dict value")
            node = child
        leaf = parts[-1]
        if isinstance(value, dict) and isinstance(node.get(leaf), dict):
            deep_merge(node[leaf], value)
        else:
            node[leaf] = value
    return out


MAX_DEPTH = 32  # containers in containers, in args, metadata, summary and cmd


def _plain(value: Any, where: str) -> Any:
    """Check a value can be stored as YAML and read back the same (and as JSON), recursing into containers.

    Plain data only: str, int, float (NaN and infinities included: YAML keeps
    them), bool, None, datetime, list/tuple and dict. A set, bytes or any
    other object is refused here, before anything is written.
    """
    if where.count(".") + where.count("[") > MAX_DEPTH:
        raise ValueError(f"{where.split('.')[0]} is nested deeper than {MAX_DEPTH} levels: flatten it")
    if isinstance(value, dict):
        return expand(value, where)
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return _plain(value.tolist(), where)  # np.linspace values are common in sweeps
    if type(value) is str:
        return check_text(value, where)
    if value is None or type(value) in (int, float, bool, datetime, date):
        return value
    for base in (bool, int, float, str):  # subclasses (str enums...) are stored as their base
        if isinstance(value, base):
            return _plain(base(value), where)
    raise ValueError(
        f"value of {where} is a {type(value).__name__}, which cannot be stored: "
        "use str, int, float, bool, None, list or dict"
    )


def check_text(value: str, where: str) -> str:
    """A string UTF-8 can hold (no lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            f"{where} is not valid text (it holds a lone surrogate): pass proper Unicode"
        ) from None
    return value


def check_name(value: Any, what: str) -> str | None:
    """A name a person reads in listings: text without control characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, not {type(value).__name__}")
    bad = next((c for c in value if ord(c) < 32 or 127 <= ord(c) < 160), None)
    if bad is not None:
        raise ValueError(f"{what} {value!r} contains the control character {bad!r}: use printable text")
    return check_text(value, what)


def check_seconds(value: Any, name: str) -> float | None:
    """A timeout in seconds: None, or a finite number above zero."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number of seconds, not {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive, finite number of seconds, not {value!r}")
    return value


def deep_merge(dst: dict[str, Any], src: dict[str, Any]) -> dict[str, Any]:
    """Merge ``src`` into ``dst`` key by key, recursing into dicts on both sides."""
    for key, value in src.items():
        if isinstance(value, dict) and isinstance(dst.get(key), dict):
            deep_merge(dst[key], value)
        else:
            dst[key] = copy.deepcopy(value)
    return dst


def new_task(
    *,
    task_id: str,
    now: datetime,
    node: str,
    task_name: str | None = None,
    args: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    priority: int = 0,
    max_retries: int = 3,
    cmd: Any = None,
    heartbeat_timeout: float | None = None,
    task_timeout: float | None = None,
) -> dict[str, Any]:
    """A fresh pending task document; raises ValueError naming any bad input."""
    task_name = check_name(task_name, "task_name")
    heartbeat_timeout = check_seconds(heartbeat_timeout, "heartbeat_timeout")
    task_timeout = check_seconds(task_timeout, "task_timeout")
    return {
        "task_id": task_id,
        "task_name": task_name,
        "status": TaskStatus.PENDING.value,
        "priority": check_int(priority, "priority"),
        "retries": 0,
        "max_retries": check_int(max_retries, "max_retries", minimum=0),
        "args": expand(args, "args"),
        "metadata": expand(metadata, "metadata"),
        "summary": {},
        "cmd": _plain(cmd, "cmd"),
        "created_at": now,
        "last_modified": now,
        "start_time": None,
        "last_heartbeat": None,
        "worker_id": None,
        "heartbeat_timeout": heartbeat_timeout,
        "task_timeout": task_timeout,
        "last_error": None,
        "gen": 0,
        "rev": 0,
        "node": node,
    }


def check_int(value: Any, name: str, minimum: int | None = None) -> int:
    """An int field; bools and floats with a fraction are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ValueError(f"{name} must be an integer, not {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value!r}")
    from labtasker.fsqueue.layout import PRIORITY_MAX, PRIORITY_MIN

    if name == "priority" and not PRIORITY_MIN <= value <= PRIORITY_MAX:
        raise ValueError(f"priority must be between {PRIORITY_MIN} and {PRIORITY_MAX}")
    return int(value)


def ordered(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with its keys in file order, for a readable file."""
    out = {k: doc[k] for k in TASK_FIELDS if k in doc}
    out.update((k, v) for k, v in doc.items() if k not in out)
    for field in DICT_FIELDS:
        if out.get(field) is None and field in out:
            out[field] = {}
    return out


def normalise(doc: dict[str, Any]) -> dict[str, Any]:
    """Fill what a hand-edited or older file may lack, so readers can rely on it."""
    for field in DICT_FIELDS:
        if not isinstance(doc.get(field), dict):
            doc[field] = {}
    doc.setdefault("task_name", None)
    doc.setdefault("priority", 0)
    doc.setdefault("retries", 0)
    doc.setdefault("max_retries", 3)
    doc.setdefault("gen", 0)
    doc.setdefault("rev", 0)
    for field in ("start_time", "last_heartbeat", "worker_id", "last_error"):
        doc.setdefault(field, None)
    return doc


def set_path(doc: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted path, creating dicts on the way."""
    parts = path.split(".")
    node = doc
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


SCALARS = frozenset((str, int, float, bool, type(None), datetime))  # immutable: shared, not copied


def owned_copy(value: Any) -> Any:
    """A copy its holder owns: a document's dicts and lists copied, its scalars shared (immutable).

    Faster than ``deepcopy`` for plain data (no memo of what was copied).
    """
    kind = type(value)
    if kind is dict:
        return {k: v if type(v) in SCALARS else owned_copy(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in SCALARS else owned_copy(v) for v in value]
    if kind in SCALARS:
        return value
    return copy.deepcopy(value)  # anything unusual a hand-edited file may hold
