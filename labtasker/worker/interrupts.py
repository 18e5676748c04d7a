"""SIGINT, SIGTERM and SIGHUP stop every loop the same way.

While a loop runs in the main thread it handles the three signals itself, SIGINT
too when it was started with SIGINT ignored (a shell starts a script's
background jobs that way, so Ctrl-C on the script would otherwise leave them
running); SIGHUP stays ignored under ``nohup``, which asks for just that. A
signal never interrupts labtasker's own bookkeeping: it is noted,
the listeners are told, and the loop acts on it at the next safe point. A
Python job in the main thread is interrupted where it stands (listeners raise
inside it); a command run by ``labtasker loop`` is sent a signal.

``NUDGE`` is a signal of our own: the lease keeper's thread sends it to the
main thread to interrupt a Python job that must stop (eta_max, a lost lease)
even inside ``time.sleep`` or a blocking read, which an exception set from
another thread could not reach.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# A real-time signal nobody else uses where there are some; SIGUSR2 elsewhere.
NUDGE: int = signal.SIGRTMIN + 1 if hasattr(signal, "SIGRTMIN") else signal.SIGUSR2

Listener = Callable[[int, int], None]  # (signal number, how many stop signals so far)


class Interrupts:
    """Handles the stop signals while a loop runs (a no-op outside the main thread)."""

    def __init__(self) -> None:
        self.signum = 0  # the first stop signal received
        self.count = 0
        self.requested = threading.Event()
        self.listeners: list[Listener] = []
        self.nudged: Callable[[], None] | None = None  # called in the main thread on NUDGE
        self.installed = False
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            for sig in (*STOPS, NUDGE):
                if sig == signal.SIGHUP and signal.getsignal(sig) == signal.SIG_IGN:
                    continue  # nohup: a closed terminal must not stop this loop
                self._saved[sig] = signal.signal(sig, self._handle)
            self.installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)
        self._saved.clear()
        self.installed = False

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number."""
        return 128 + self.signum

    def nudge(self) -> bool:
        """Interrupt the main thread (from another thread); False when signals are not ours."""
        if not self.installed or signal.getsignal(NUDGE) != self._handle:
            return False  # never send a signal whose handler is not ours (its default ends the process)
        signal.pthread_kill(threading.main_thread().ident or 0, NUDGE)
        return True

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if signum == NUDGE:
            if self.nudged is not None:
                self.nudged()  # may raise, inside the job
            return
        self.count += 1
        self.signum = self.signum or signum
        self.requested.set()
        for listener in list(self.listeners):
            listener(signum, self.count)  # may raise, inside the job


def forwarded(signum: int) -> int:
    """The signal a job's command gets: SIGINT for SIGINT, SIGTERM for the others."""
    return signal.SIGINT if signum == signal.SIGINT else signal.SIGTERM
