"""A queue that the TUI may read but never change (``labtasker tui --read-only``)."""

from __future__ import annotations

from typing import Any

from labtasker.errors import UsageError
from labtasker.fsqueue.store import FsQueue


class ReadOnlyQueue(FsQueue):
    """An FsQueue that never writes: unreadable files are noted, not moved to quarantine."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unreadable: dict[str, str] = {}

    def quarantine(self, dirname: str, name: str, why: str) -> None:
        self.unreadable[f"{dirname}/{name}"] = why

    def transact(self, *args: Any, **kwargs: Any) -> Any:
        raise UsageError(f"{self.path} is open read-only; nothing was changed")

    def put(self, *args: Any, **kwargs: Any) -> str:
        raise UsageError(f"{self.path} is open read-only; nothing was changed")
