"""Change hints from the queue directory, for the TUI (through ``events.Watch``).

Events only wake the UI up early; the periodic rescan is the truth (inotify
misses changes made by other NFS clients, and bursts can overflow). ``tmp/``
is not watched: a file held there is on its way to a state directory, and its
arrival there is the event that matters. No folder is made: a folder the queue
does not have yet is found by the rescan.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from labtasker.events import Watch
from labtasker.fsqueue.layout import ALL_DIRS

WATCHED = tuple(d for d in ALL_DIRS if d != "tmp")


class QueueWatcher:
    """Calls ``on_change`` (from a watchdog thread) when files of the queue come or go."""

    def __init__(self, path: Path, on_change: Callable[[], None], *, polling: bool = False) -> None:
        self.path = Path(path).absolute()
        self.on_change = on_change
        self._watch = Watch(
            self.path, lambda _path: on_change(), polling=polling, subdirs=WATCHED, make_dirs=False
        )

    def start(self) -> None:
        """Start watching (polling where native watching is refused)."""
        self._watch.start()

    def stop(self) -> None:
        """Stop the observer thread."""
        self._watch.stop()
