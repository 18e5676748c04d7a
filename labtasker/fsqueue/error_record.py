"""A failed attempt's error, as stored in a task's ``last_error``: one shape for every loop.

``last_error`` is a mapping ``{type, message, traceback}``: the exception's type
name, its message, and the user's traceback without labtasker's own frames
(for ``labtasker loop``, the command's last lines of output). A reclaim writes a
plain string (its reason). Older queues kept a Python failure three times (the
whole traceback in ``last_error`` and again in ``summary.labtasker_exception``);
``of`` reads every shape. Pure: no I/O.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

Record = dict[str, Any]

_OLD_SUMMARY_KEY = "labtasker_exception"  # how failures were kept before: read, never written
_OURS = str(Path(__file__).resolve().parents[1])  # the labtasker package: its frames are not the user's


def make(type_: str, message: str, traceback: str | None = None) -> Record:
    """A record; ``traceback`` is left out when there is none."""
    record: Record = {"type": type_, "message": message}
    if traceback:
        record["traceback"] = traceback
    return record


def from_exception(exc: BaseException) -> Record:
    """The record of an exception a job raised, with the user's frames only."""
    return make(type(exc).__name__, str(exc), user_traceback(exc))


def user_traceback(exc: BaseException) -> str:
    """The formatted traceback of ``exc`` (and what it chains) without labtasker's frames."""
    import traceback as tb  # here: only a failed task's record needs it

    summary = tb.TracebackException.from_exception(exc)
    seen: set[int] = set()
    stack = [summary]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        item.stack = tb.StackSummary.from_list([f for f in item.stack if not _ours(f.filename)])
        stack += [x for x in (item.__cause__, item.__context__) if x is not None]
    return "".join(summary.format())


def _ours(filename: str) -> bool:
    try:
        return str(Path(filename).resolve()).startswith(_OURS + "/")
    except (OSError, ValueError):
        return False


def of(doc: dict[str, Any]) -> Record | None:
    """A task's (or an attempt's) current error as a record, whatever shape it was stored in."""
    value = doc.get("last_error")
    if isinstance(value, dict):
        return {k: value.get(k) for k in ("type", "message", "traceback") if value.get(k) is not None}
    summary = doc.get("summary")
    old = summary.get(_OLD_SUMMARY_KEY) if isinstance(summary, dict) else None
    if isinstance(old, dict) and value:
        return make(str(old.get("type") or "Error"), str(old.get("message") or ""), old.get("traceback"))
    if value is None or value == "":
        return None
    text = str(value).strip()
    lines = text.splitlines() or [""]
    if text.startswith("Traceback"):
        kind, _, message = lines[-1].partition(": ")
        return make(kind, message, text + "\n")
    return {"message": lines[0], **({"traceback": "\n".join(lines[1:])} if len(lines) > 1 else {})}


def text(value: Any) -> str | None:
    """The error as one text a person reads (``Task.last_error``): the traceback, else the message."""
    if value is None or value == "":
        return None
    if not isinstance(value, dict):
        return str(value)
    message = str(value.get("message") or "")
    trace = value.get("traceback")
    if not trace:
        return message if not value.get("type") or _is_ours(value) else f"{value['type']}: {message}"
    if str(trace).startswith("Traceback"):
        return str(trace).rstrip("\n")
    return f"{message}\n--- last output ---\n{str(trace).rstrip()}"


def headline(value: Any) -> str:
    """One line for a table: ``Type: message`` (or the last line of an old text)."""
    if isinstance(value, dict):
        message = str(value.get("message") or "").strip().splitlines()
        first = message[0] if message else ""
        return first if not value.get("type") or _is_ours(value) else f"{value['type']}: {first}"
    lines = str(value or "").strip().splitlines()
    return lines[-1] if lines else ""


# The types the loop itself writes (a stop, a command's exit): their message already says it all.
OWN_TYPES = ("CommandFailed", "EtaExceeded", "LeaseNotRenewed", "LeaseLost", "ReportedFailed")


def _is_ours(value: Record) -> bool:
    return value.get("type") in OWN_TYPES


def without_old(summary: dict[str, Any]) -> dict[str, Any]:
    """A summary without the record older versions kept in it."""
    return {k: v for k, v in summary.items() if k != _OLD_SUMMARY_KEY}
