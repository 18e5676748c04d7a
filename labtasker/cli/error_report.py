"""Turning any exception into one line on stderr and an exit code.

Exit codes: 0 success, 1 a failed operation, 2 bad usage or input, 130
interrupted. A traceback is printed only when asked for, with ``-v`` or
``LABTASKER_DEBUG=1``.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

from labtasker.errors import (
    ConfigError,
    FilterError,
    LabtaskerError,
    QueueNotFound,
    TaskNotFound,
    UsageError,
    WorkerNotFound,
)  # fmt: skip

OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130

_debug = False

# A hint for errors whose message does not already say how to fix them.
_HINTS: tuple[tuple[type[BaseException], str], ...] = (
    (TaskNotFound, "list task ids with `labtasker task ls -q`"),
    (WorkerNotFound, "list workers with `labtasker worker ls`"),
    (QueueNotFound, "create it with `labtasker queue create-from-config`"),
)


def set_debug(on: bool = True) -> None:
    """Show tracebacks for errors (``-v``)."""
    global _debug
    _debug = on


def debug_enabled() -> bool:
    """True if ``-v`` was given or ``LABTASKER_DEBUG`` is set to something other than 0."""
    return _debug or os.environ.get("LABTASKER_DEBUG", "") not in ("", "0", "false", "no")


def exit_code(exc: BaseException) -> int:
    """The exit code an exception ends the command with."""
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED
    if isinstance(exc, LabtaskerError):
        return int(exc.exit_code)
    if isinstance(exc, ValueError) and not isinstance(exc, UnicodeError):
        return USAGE  # the core raises ValueError for input it refuses
    return FAILED


def message(exc: BaseException) -> str:
    """What to tell the user about ``exc``: the error, then a hint if one helps."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, FilterError):
        return str(exc)  # three lines by design: the problem, the expression, a caret
    text = _one_line(str(exc)) or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in text:
        text = f"{text}: {exc.filename}"
    if not isinstance(exc, (LabtaskerError, ValueError, OSError)):
        text = f"unexpected {type(exc).__name__}: {text} (run again with -v for the traceback)"
    for kind, hint in _HINTS:
        if isinstance(exc, kind) and "`" not in text:
            text = f"{text} (hint: {hint})"
    if isinstance(exc, ConfigError) and "labtasker config" not in text:
        text = f"{text} (hint: fix it with `labtasker config`)"
    return text


def report(exc: BaseException, stream: TextIO | None = None) -> int:
    """Print ``exc`` for the user and return the exit code to end with."""
    out = stream or sys.stderr
    if debug_enabled() and not isinstance(exc, KeyboardInterrupt):
        import traceback  # here: a command that succeeds prints none

        traceback.print_exception(type(exc), exc, exc.__traceback__, file=out)
    try:
        print(f"labtasker: error: {message(exc)}", file=out)
        out.flush()
    except (OSError, ValueError):  # stderr itself is gone; the exit code still tells
        pass
    return exit_code(exc)


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


__all__ = [
    "FAILED",
    "INTERRUPTED",
    "OK",
    "USAGE",
    "UsageError",
    "debug_enabled",
    "exit_code",
    "message",
    "report",
    "set_debug",
]
