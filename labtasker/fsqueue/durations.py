"""Durations as people write them: ``90``, ``90s``, ``1h30m``, ``1.5h``, ``2d``; pure."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)


def parse(value: str | float | int | None) -> float | None:
    """Seconds in ``value``; None stays None; a bad string is a ValueError saying why."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, (int, float)):
        if value <= 0:
            raise ValueError(f"a duration must be positive, not {value!r}")
        return float(value)
    text = str(value).strip().lower().replace(" ", "")
    try:
        return parse(float(text))
    except ValueError:
        pass
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {value!r} (write e.g. 90, 90s, 45m, 1h30m, 2d)")
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"a duration must be positive, not {value!r}")
    return seconds


def human(seconds: float) -> str:
    """A short reading of a number of seconds: ``4.2s``, ``95s``, ``33m``, ``5.1h``, ``2.0d``."""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"
