"""Regular expressions in filters, with a time limit on every match.

Patterns go through the ``regex`` package: the syntax of Python's ``re``
(groups, classes, lookarounds, back-references all keep working), with
smarter handling of nested repeats and a ``timeout`` per match, so a pattern
that backtracks without end, such as ``(x+x+)+y``, stops with a clear error
instead of hanging a listing or a loop.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from labtasker.errors import FilterError

MATCH_SECONDS = 0.2  # one match of one task's value; a sane pattern needs microseconds
_FLAGS = re.IGNORECASE | re.MULTILINE | re.DOTALL | re.VERBOSE  # same bits in regex


def compile_search(pattern: str | re.Pattern[str], flags: int = 0) -> Callable[[str], Any]:
    """``search(text)`` for a pattern, time-limited; raises ``re.error`` for a bad pattern."""
    import regex  # only filters with a pattern pay for importing it (most listings have none)

    if isinstance(pattern, re.Pattern):
        flags = pattern.flags & _FLAGS
        pattern = pattern.pattern
    try:
        compiled = regex.compile(pattern, flags & _FLAGS)
    except regex.error as exc:
        raise re.error(str(exc)) from None
    except TimeoutError:  # pragma: no cover - compiling does not time out
        raise re.error("too complex") from None

    def search(text: str) -> Any:
        try:
            return compiled.search(text, timeout=MATCH_SECONDS)
        except TimeoutError:
            raise FilterError(
                f"the regular expression {pattern!r} took over {MATCH_SECONDS:g}s on one value "
                f"({text[:40]!r}...): it backtracks too much; simplify it (avoid nested repeats like (a+)+)"
            ) from None

    return search
