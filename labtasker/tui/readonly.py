"""A queue that the TUI may read but never change (``labtasker tui --read-only``).

Nothing is written into the folder: no quarantine, no putting back what a dead
process held (readers show it where it was), no read cache in ``tmp/cache/``
and no probe of the filesystem's clock.
"""

from __future__ import annotations

from typing import Any

from labtasker.errors import UsageError
from labtasker.fsqueue import clock
from labtasker.fsqueue.cache import DirCache
from labtasker.fsqueue.store import FsQueue, Held


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

    def settle_held(self, older_than: float = 0.0) -> list[str]:
        return []

    def _put_back(self, item: Held) -> bool:
        return False

    def fs_now(self) -> float:
        return clock.now().timestamp()

    def _dir_cache(self, dirname: str) -> DirCache:
        found = super()._dir_cache(dirname)
        found.read_only = True
        return found
