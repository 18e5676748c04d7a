"""``labtasker-server serve``: the monitor of a queue, in the foreground until SIGTERM or Ctrl-C.

There is no server in the network sense: the queue is a directory. ``serve``
reclaims the tasks of dead workers promptly, puts back files that dead
processes left in ``tmp/`` and logs what it did. Loops stay correct without
it; several may run on one queue.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import NoReturn

from plumbum import cli

from labtasker import __version__, api
from labtasker.cli import error_report as errors
from labtasker.cli.base import Command, Group, argtype
from labtasker.cli.event import _stop_on_signals
from labtasker.fsqueue import durations, lease
from labtasker.fsqueue.store import FsQueue

log = logging.getLogger("labtasker")


@argtype("seconds")
def seconds_arg(text: str) -> float:
    """A positive number of seconds, or a duration such as 90s or 10m."""
    value = durations.parse(text)
    assert value is not None
    return value


class Server(Group):
    """The labtasker monitor: keeps a queue healthy while workers come and go"""

    PROGNAME = "labtasker-server"
    VERSION = __version__
    USAGE = "    labtasker-server serve [--interval SECONDS] [--events]\n"


@Server.subcommand("serve")
class Serve(Command):
    """Watch the queue: reclaim the tasks of dead workers, clean tmp/, log what it did (until SIGTERM)"""

    interval = cli.SwitchAttr(
        ["--interval"],
        seconds_arg,
        default=2.0,
        argname="SECONDS",
        help="Seconds between sweeps of running tasks",
    )
    tmp_age = cli.SwitchAttr(
        ["--tmp-age"],
        seconds_arg,
        default=600.0,
        argname="DURATION",
        help="A file held in tmp/ this long was left by a dead process",
    )
    polling = cli.Flag(["--polling"], help="Poll the directories (the default on network filesystems)")
    events = cli.Flag(["--events"], help="Also log every task and worker state transition")
    queue_name = cli.SwitchAttr(["--queue"], str, argname="NAME", help="Watch this queue of the project")

    def main(self) -> int:
        _log_to_stderr()
        stop = threading.Event()
        with _stop_on_signals(stop):
            queue = _wait_for_queue(self.queue_name, stop, self.interval)
            if queue is None:
                return 0
            from labtasker.monitor import Monitor

            on_event = (lambda e: log.info("%s", e.line())) if self.events else None
            Monitor(
                queue,
                _defaults(),
                interval=self.interval,
                tmp_age=self.tmp_age,
                janitor_every=min(60.0, self.tmp_age / 2),
                polling=True if self.polling else None,
                on_event=on_event,
            ).run(stop)
        return 0


def _wait_for_queue(name: str | None, stop: threading.Event, every: float) -> FsQueue | None:
    """The queue to watch; the usage document starts serve before `labtasker init`, so wait for it."""
    said = False
    while not stop.is_set():
        queue = api.context(queue_name=name).queue
        if queue.exists():
            return queue
        if not said:
            log.info("no queue at %s yet; waiting for it (`labtasker init` creates it)", queue.path)
            said = True
        stop.wait(min(every, 1.0))
    return None


def _defaults() -> lease.Terms:
    """Lease terms for running files that do not carry their own (from [loop] in config.toml)."""
    cfg = api.context().cfg
    if cfg is None:
        return lease.Terms()
    return lease.make_terms(cfg.setting("heartbeat_interval"), cfg.setting("heartbeat_timeout"))


def _log_to_stderr() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if errors.debug_enabled() else logging.INFO)
    log.propagate = False


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))
        level = "" if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
        return f"{stamp} labtasker-server: {level}{record.getMessage()}"


def main(argv: list[str] | None = None) -> int:
    """Run ``labtasker-server`` with ``argv``; return the exit code."""
    argv = list(sys.argv if argv is None else argv) or ["labtasker-server"]
    try:
        _, code = Server.run(argv, exit=False)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else errors.FAILED)
    except BaseException as exc:
        return errors.report(exc)
    return int(code or 0)


def run() -> NoReturn:
    """Console-script entry point of ``labtasker-server``."""
    sys.exit(main())
