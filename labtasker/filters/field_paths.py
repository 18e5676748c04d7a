"""Field paths into task documents, shared by filters and sorting; pure.

A path is a tuple of keys (``("args", "optimizer", "lr")``), written by users
as ``args.optimizer.lr`` or ``args["optimizer"]["lr"]``. Looking one up never
raises: an absent key, or a step through something that is not a container,
gives ``MISSING``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timezone
from typing import Any

from labtasker.fsqueue.documents import TASK_FIELDS

Key = str | int
Path = tuple[Key, ...]


class _Missing:
    """The value of a path that leads nowhere; falsy, equal only to itself."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "MISSING"

    def __reduce__(self) -> str:  # stays a singleton through pickle and copy
        return "MISSING"


MISSING: Any = _Missing()

# Top-level names a filter or sort may use: the task model's fields, so a new
# field is filterable without editing a second list. A name a document lacks
# is simply missing. (model imports only codec and layout: no import cycle.)
FIELDS = frozenset(TASK_FIELDS)

# The fields of a worker document, for `labtasker worker ls -f` and ls_workers(extra_filter=...).
WORKER_FIELDS = frozenset(
    {"worker_id", "worker_name", "status", "retries", "max_retries", "metadata", "node", "pid"}
    | {"created_at", "last_modified"}
)

# Top-level fields holding a timestamp; compared as instants, whatever their form.
TIMESTAMP_FIELDS = frozenset({"created_at", "last_modified", "start_time", "last_heartbeat"})


def split_path(path: str | Iterable[Key]) -> Path:
    """``"args.optimizer.lr"`` -> ``("args", "optimizer", "lr")``; tuples pass through."""
    if isinstance(path, str):
        return tuple(path.split("."))
    return tuple(path)


def get_path(doc: Any, path: str | Iterable[Key]) -> Any:
    """The value at ``path`` in ``doc`` (None stays None), or ``MISSING``."""
    value = doc
    for key in split_path(path):
        value = step(value, key)
        if value is MISSING:
            break
    return value


def step(value: Any, key: Key) -> Any:
    """``value[key]`` for a mapping or a list, else ``MISSING``; never raises."""
    if type(value) is dict or isinstance(value, Mapping):
        found = value.get(key, MISSING)
        if found is MISSING:  # YAML may load a key as int, a dotted path gives str
            other = str(key) if isinstance(key, int) else _as_index(key)
            if other is not None:
                found = value.get(other, MISSING)
        return found
    if isinstance(value, (list, tuple)):
        index = key if isinstance(key, int) else _as_index(key)
        if index is None or not -len(value) <= index < len(value):
            return MISSING
        return value[index]
    return MISSING


def _as_index(key: str) -> int | None:
    text = key[1:] if key.startswith("-") else key
    return int(key) if text.isdigit() and len(text) < 19 else None


def resolve(doc: Any, path: Path) -> Any:
    """Like ``get_path``, but a top-level timestamp field comes back as an instant."""
    value = get_path(doc, path)
    if len(path) == 1 and path[0] in TIMESTAMP_FIELDS and value is not None:
        instant = as_instant(value)
        return value if instant is None else instant
    return value


def flatten(mapping: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as ``{"optim.lr": value}`` (the dotted paths users write); lists and
    scalars are leaves, an empty mapping is a leaf too; not a mapping: ``{}``."""
    if not isinstance(mapping, Mapping):
        return {}
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def as_instant(value: Any) -> datetime | None:
    """An aware datetime for a datetime (naive means UTC), date or ISO 8601 string; else None."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if isinstance(value, str) and 8 <= len(value) <= 40 and value[:4].isdigit():
        text = value[:-1] + "+00:00" if value[-1] in "Zz" else value  # 3.10 lacks "Z"
        try:
            return as_instant(datetime.fromisoformat(text))
        except ValueError:
            return None
    return None


def is_absent(value: Any) -> bool:
    """True for ``MISSING`` and None, which filters and sorting treat alike."""
    return value is MISSING or value is None


def closest(name: str, choices: Iterable[str]) -> str | None:
    """The choice nearest to a misspelt ``name``, if any is near enough."""
    import difflib  # here, not at the top: only a refused filter needs it

    found = difflib.get_close_matches(name, sorted(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def check_path(path: Path, what: str = "field", fields: frozenset[str] = FIELDS) -> str | None:
    """None if ``path`` starts at a known field (of ``fields``), else the problem in words."""
    head = path[0] if path else ""
    if head == "":
        return f"empty {what}"
    if not isinstance(head, str) or head not in fields:
        hint = closest(str(head), fields)
        kind = "task" if fields is FIELDS else "worker"
        tail = f" (did you mean {hint}?)" if hint else f"; {kind} fields are {', '.join(sorted(fields))}"
        return f"unknown {what} {head!r}{tail}"
    if any(isinstance(k, str) and (not k or k.startswith("__")) for k in path):
        return f"bad {what} path {'.'.join(map(str, path))!r}: empty or '__' key"
    return None
