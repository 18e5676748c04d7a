"""Messages posted to the app from watcher and worker threads."""

from __future__ import annotations

from textual.message import Message

from labtasker.tui.actions import Outcome
from labtasker.tui.detail import Detail
from labtasker.tui.scan import Snapshot


class QueueChanged(Message):
    """Something changed in the queue directory; a burst collapses into one."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, QueueChanged)


class Counted(Message):
    """The state counts, sent ahead of a scan's rows (cheap: listings only)."""

    def __init__(self, counts: dict[str, int]) -> None:
        super().__init__()
        self.counts = counts


class Scanned(Message):
    """A scan finished."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class DetailLoaded(Message):
    """The detail of the highlighted file was read."""

    def __init__(self, detail: Detail) -> None:
        super().__init__()
        self.detail = detail


class ActionDone(Message):
    """An action on tasks finished (some may have failed)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__()
        self.outcome = outcome
