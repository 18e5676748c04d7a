"""The only place that reads the wall clock (tests inject ``now`` instead)."""

from __future__ import annotations

from datetime import datetime, timezone


def now() -> datetime:
    """Current time, aware, in UTC."""
    return datetime.now(timezone.utc)
