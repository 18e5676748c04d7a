"""``connect_events()``: the original's listener object over this queue's event stream.

``listener = labtasker.connect_events()`` starts following the queue's files in
a background thread; ``get_event(timeout)`` and ``iter_events()`` hand out the
transitions seen since, oldest first; ``stop()`` ends the following.
"""

from __future__ import annotations

import queue as queue_mod
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # events (and watchdog) load when a listener starts, not with labtasker
    from labtasker.events import QueueEvent
    from labtasker.fsqueue.store import FsQueue


class EventListener:
    """Transitions of one queue, gathered by a background thread from ``start()`` to ``stop()``."""

    def __init__(self, queue: FsQueue | None = None, *, polling: bool | None = None) -> None:
        if queue is None:
            from labtasker.run_context import context

            queue = context(create=True).queue
        self.queue = queue
        self.polling = polling
        self._events: queue_mod.Queue[QueueEvent] = queue_mod.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self, timeout: float = 10) -> EventListener:
        """Begin listening; returns once events are being followed (at most ``timeout`` seconds)."""
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self._ready.clear()
        self._thread = threading.Thread(target=self._follow, name="labtasker-events", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise TimeoutError(f"could not start following {self.queue.path} within {timeout:g}s")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        """Stop following; events already gathered can still be read."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def is_connected(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def get_event(self, timeout: float | None = None) -> QueueEvent | None:
        """The next event, waiting up to ``timeout`` seconds (None: for ever); None if none came."""
        try:
            return self._events.get(timeout=timeout)
        except queue_mod.Empty:
            return None

    def iter_events(self) -> Iterator[QueueEvent]:
        """Events as they come, until ``stop()`` (then what was already gathered)."""
        while True:
            event = self.get_event(timeout=0.2)
            if event is not None:
                yield event
            elif self._stop.is_set() and self._events.empty():
                return

    def _follow(self) -> None:
        from labtasker.events import EventStream

        try:
            with EventStream(self.queue, polling=self.polling) as stream:
                self._ready.set()
                while not self._stop.is_set():
                    for event in stream.poll(0.2):
                        self._events.put(event)
        except BaseException as exc:  # reported by start() if it happens before the stream is up
            self._error = exc
            self._ready.set()


def connect_events(timeout: float = 10) -> EventListener:
    """A started listener of the queue in use (see ``EventListener``)."""
    return EventListener().start(timeout=timeout)
