"""Change hints from the queue directory, by watchdog.

Events only wake the UI up early; the periodic rescan is the truth (inotify
misses changes made by other NFS clients, and bursts can overflow). Events in
``tmp/`` are skipped: a file held there is on its way to a state directory,
and its arrival there is the event that matters.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler

IGNORED_DIRS = ("tmp",)


class QueueWatcher:
    """Calls ``on_change`` (from a watchdog thread) when files of the queue change."""

    def __init__(self, path: Path, on_change: Callable[[], None], *, polling: bool = False) -> None:
        self.path = Path(path).absolute()
        self.on_change = on_change
        self.polling = polling
        self._observer: Any = None

    def start(self) -> None:
        """Start watching; falls back to polling where native watching is refused."""
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        try:
            self._observer = _started(
                PollingObserver() if self.polling else Observer(), _Handler(self), self.path
            )
        except OSError:  # e.g. out of inotify watches: polling, and the rescan timer, still work
            self._observer = _started(PollingObserver(), _Handler(self), self.path)

    def stop(self) -> None:
        """Stop the observer thread."""
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=2)
            self._observer = None

    def relevant(self, event: FileSystemEvent) -> bool:
        """True for events outside ``tmp/`` (and not on bare directories)."""
        paths = [event.src_path, getattr(event, "dest_path", "") or ""]
        for raw in paths:
            if not raw:
                continue
            path = Path(raw if isinstance(raw, str) else raw.decode())
            try:
                parts = path.relative_to(self.path).parts
            except ValueError:
                continue
            if parts and parts[0] not in IGNORED_DIRS and not event.is_directory:
                return True
        return False


def _started(observer: Any, handler: FileSystemEventHandler, path: Path) -> Any:
    observer.daemon = True  # never keep the process alive on its own
    observer.schedule(handler, str(path), recursive=True)
    observer.start()
    return observer


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: QueueWatcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return  # reads (our own scans included) change nothing
        if self.watcher.relevant(event):
            self.watcher.on_change()
