"""Running a job's command: output shown live and copied to a log, stopped cleanly on request.

By default the command runs under a pseudo-terminal (its stdin, stdout and
stderr are one), whether or not labtasker itself has a terminal, so progress
bars, colours and isatty() checks behave as they would without labtasker. The command gets its own
process group: stopping it stops everything it started (data loader workers,
the commands of a shell script). A stop sends the group one signal, waits the
grace period (less if asked again), then sends SIGKILL.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

GRACE = 10.0  # seconds a stopped command gets before SIGKILL (the loop passes its own)
POLL = 0.2  # seconds between checks of the stop condition
TAIL = 4000  # bytes of output kept for the error message of a failed run


@dataclass
class Result:
    code: int
    stopped: bool  # stopped because ``stop()`` became true
    tail: bytes


def run(
    argv: list[str],
    *,
    env: dict[str, str],
    log_path: Path,
    use_pty: bool,
    stop: Callable[[], int] = lambda: 0,
    hard: Callable[[], bool] = lambda: False,
    grace: float = GRACE,
) -> Result:
    """Run ``argv`` to the end, or until ``stop()`` names a signal to stop it with (then
    SIGKILL after ``grace`` seconds, or at once when ``hard()``); KeyboardInterrupt stops
    it the same way and is re-raised."""
    with open(log_path, "ab") as log:
        proc, sources, closers = _spawn(argv, env, use_pty)
        pump = _Pump(proc, sources, log, hard, grace)
        try:
            stopped = pump.until_exit(stop)
        except KeyboardInterrupt:
            pump.stop(signal.SIGINT)
            raise
        finally:
            pump.close()
            for close in closers:
                close()
    return Result(proc.returncode, stopped, bytes(pump.tail))


def _spawn(argv: list[str], env: dict[str, str], use_pty: bool) -> tuple[Any, dict[int, Any], list[Any]]:
    if use_pty:
        import pty

        master, slave = pty.openpty()
        _prepare_pty(slave)
        os.write(master, b"\x04")  # nobody types here: a job reading stdin gets end-of-file, not a hang
        try:
            proc = subprocess.Popen(
                argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        return proc, {master: sys.stdout}, [lambda: os.close(master)]
    env = {"PYTHONUNBUFFERED": "1", **env}  # show a Python job's output as it is printed
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    sources = {proc.stdout.fileno(): sys.stdout, proc.stderr.fileno(): sys.stderr}
    return proc, sources, [proc.stdout.close, proc.stderr.close]


def _prepare_pty(fd: int) -> None:
    """Same size as our terminal (80x24 without one); no CR added to each LF (the log stays
    plain text); no echo (nothing typed there)."""
    import fcntl
    import struct
    import termios

    try:
        size = fcntl.ioctl(sys.stdout.fileno(), termios.TIOCGWINSZ, b"\0" * 8)
    except (OSError, ValueError, AttributeError):
        size = struct.pack("HHHH", 24, 80, 0, 0)
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, size)
    except OSError:
        pass
    try:
        attrs = termios.tcgetattr(fd)
        attrs[1] &= ~termios.ONLCR
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
    except termios.error:
        pass


def _exit_fd(pid: int) -> int | None:
    """A pidfd (Linux 5.3+) that becomes readable when ``pid`` exits; None where there is none."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return int(opener(pid))
    except OSError:
        return None


class _Pump:
    """Copies the command's output to our stdout/stderr and to the log as it comes."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        sources: dict[int, Any],
        log: BinaryIO,
        hard: Callable[[], bool] = lambda: False,
        grace: float = GRACE,
    ) -> None:
        self.proc = proc
        self.hard, self.grace = hard, grace
        self.sources = sources
        self.open = set(sources)
        self.log = log
        self.tail = bytearray()
        self.exited = _exit_fd(proc.pid)  # readable when the command exits: no poll interval to wait out

    def close(self) -> None:
        if self.exited is not None:
            os.close(self.exited)
            self.exited = None

    def until_exit(self, stop: Callable[[], int]) -> bool:
        """Copy output until the command exits; True if ``stop()`` ended it."""
        while self.proc.poll() is None:
            sig = stop()
            if sig:
                self.stop(sig)
                return True
            self.step(POLL)
        self.drain()
        return False

    def stop(self, first: int) -> None:
        """Signal the command's group: ``first``, then SIGKILL after the grace period (or when
        ``hard()`` turns true)."""
        if _signal_group(self.proc.pid, first):
            deadline = time.monotonic() + self.grace
            try:
                while self.proc.poll() is None and time.monotonic() < deadline and not self.hard():
                    self.step(0.1)
            except KeyboardInterrupt:  # asked again: stop waiting
                pass
            if self.proc.poll() is None:
                _signal_group(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        _signal_group(self.proc.pid, signal.SIGKILL)  # whatever the leader left behind
        self.drain()

    def step(self, timeout: float) -> bool:
        """Copy what is ready within ``timeout`` (returning early if the command exits); False if nothing was."""
        watched = list(self.open)
        if self.exited is not None:
            watched.append(self.exited)
        if not watched:
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
            return False
        ready, _, _ = select.select(watched, [], [], timeout)
        for fd in ready:
            if fd == self.exited:
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the pseudo-terminal's other side is closed
                data = b""
            if not data:
                self.open.discard(fd)
                continue
            self._write(self.sources[fd], data)
        return bool(ready)

    def drain(self) -> None:
        """Copy what is left after the command ended (not waiting for a grandchild that keeps it open)."""
        self.close()  # the exit is known: only output wakes a step from here on
        while self.open and self.step(0.05):
            pass

    def _write(self, stream: Any, data: bytes) -> None:
        self.log.write(data)
        self.log.flush()
        self.tail += data
        del self.tail[:-TAIL]
        try:
            buffer = getattr(stream, "buffer", None)
            if buffer is not None:
                stream.flush()
                buffer.write(data)
                buffer.flush()
            else:
                stream.write(data.decode(errors="replace"))
                stream.flush()
        except (BrokenPipeError, ValueError):  # our own output is gone; the log still has it
            pass


def _signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to a process group; False if the group is gone."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True
