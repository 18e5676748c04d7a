"""``labtasker event listen``: task and worker state transitions, one line each, as they happen."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from plumbum import cli

from labtasker import api
from labtasker.cli import output
from labtasker.cli.base import Command, Group
from labtasker.errors import QueueNotFound

if TYPE_CHECKING:
    from labtasker.events import QueueEvent


class Event(Group):
    """Follow what happens to tasks and workers"""


@Event.subcommand("listen")
class Listen(Command):
    """Print each task and worker state transition as it happens, until Ctrl-C

    Events come from the queue's files, so they include what other processes
    and other machines did. Example: labtasker event listen --fmt jsonl | jq .new
    """

    fmt = cli.SwitchAttr(
        ["--fmt"],
        cli.Set("line", "jsonl"),
        default="line",
        argname="FORMAT",
        help="line (readable) or jsonl (seq, time, entity, id, old, new, doc)",
    )
    polling = cli.Flag(["--polling"], help="Poll the directories (the default on network filesystems)")
    compact = cli.Flag(
        ["-c", "--compact"],
        help="One bracketed line per event, as the original printed it: "
        "[seq][time][state_transition][entity][id][old -> new]",
    )
    raw = cli.Flag(
        ["--raw"], excludes=["--compact"], help="Each event as it is recorded (same as --fmt jsonl)"
    )
    timeout = cli.SwitchAttr(
        ["--timeout"],
        float,
        argname="SECONDS",
        help="Accepted for scripts of the original: following files needs no connection",
    )

    def main(self) -> int:
        queue = api.context().queue
        if not queue.exists():
            raise QueueNotFound(f"no queue at {queue.path}; create it with `labtasker init` or submit a task")
        from labtasker.events import EventStream

        stop = threading.Event()
        with _stop_on_signals(stop), EventStream(queue, polling=True if self.polling else None) as stream:
            how = "polling" if stream.polling else "native notifications"
            output.info(f"listening to {queue.path} ({how}); Ctrl-C to stop")
            while not stop.is_set():
                for event in stream.poll(0.5):
                    if self.raw or (self.fmt == "jsonl" and not self.compact):
                        text = event.to_json()
                    else:
                        text = compact(event) if self.compact else event.line()
                    print(text, flush=True)
        return 0


def compact(event: QueueEvent) -> str:
    """The original's compact line, for scripts that parse it (``old`` is "created" when first seen)."""
    return (
        f"[{event.seq:5}][{event.time.isoformat()}][{'state_transition':20}]"
        f"[{event.entity:10}][{event.id:10}][{event.old_state:10} -> {event.new:10}]"
    )


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C and SIGTERM end the command cleanly, with exit code 0."""

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    saved = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not the main thread (an embedding program)
            saved[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)
        sys.stdout.flush()
