"""``labtasker tui [QUEUE_DIR]``: browse and triage a queue in the terminal.

Textual is imported only in ``main``, after the arguments were checked, so
``labtasker --help`` and every other command start without it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from plumbum import cli

from labtasker import run_context
from labtasker.cli.base import Command
from labtasker.errors import UsageError
from labtasker.run_context import open_queue

STATES = ("pending", "running", "success", "failed", "cancelled", "attempts", "quarantine")


def state_arg(text: str) -> str:
    """A state of the tree (``done`` is accepted for ``success``)."""
    value = text.strip().lower()
    value = "success" if value == "done" else value
    if value not in STATES:
        raise ValueError(f"use one of {', '.join(STATES)}")
    return value


class Tui(Command):
    """Browse and triage a queue in the terminal: states, tasks, errors, logs; cancel, re-queue, edit"""

    PROGNAME = "labtasker tui"
    USAGE = "    labtasker tui [QUEUE_DIR] [--read-only] [-s STATE] [-f EXPR] [-m METRICS] [--results]\n"

    read_only = cli.Flag(
        ["--read-only"], help="Look only: no action changes a file (for a copy from elsewhere)"
    )
    state = cli.SwitchAttr(
        ["-s", "--status"],
        state_arg,
        argname="STATE",
        default="pending",
        help="The state shown first: " + ", ".join(STATES),
    )
    extra_filter = cli.SwitchAttr(
        ["-f", "--extra-filter"],
        str,
        argname="EXPR",
        default="",
        help="A filter to start with, as in `labtasker task ls -f`",
    )
    metrics = cli.SwitchAttr(
        ["-m", "--metrics"],
        str,
        argname="NAMES",
        default=None,
        help="Summary metrics to show as columns, e.g. acc,loss (default: the numeric ones)",
    )
    poll = cli.Flag(
        ["--poll"], help="Watch for changes by polling (NFS, SMB, sshfs: native events miss them)"
    )
    results = cli.Flag(
        ["--results"], help="Open on the results screen: args against metrics of finished tasks, with a plot"
    )
    log_dirs = cli.SwitchAttr(
        ["--log-dir"],
        str,
        argname="DIR",
        list=True,
        help="Where to look for run logs besides <queue>/logs and <root>/logs",
    )

    def main(self, queue_dir: str = "") -> int:
        queue = open_queue(queue_dir or None, read_only=self.read_only)
        if self.extra_filter:
            from labtasker.filters import language as flt

            flt.compile(self.extra_filter)  # a bad filter is a usage error before the screen opens
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise UsageError(
                "labtasker tui needs a terminal; to list tasks in a script use `labtasker task ls`"
            )
        from labtasker.tui.app import QueueApp

        metrics = (
            [m.strip() for m in self.metrics.split(",") if m.strip()] if self.metrics is not None else None
        )
        app = QueueApp(
            queue,
            read_only=self.read_only,
            state=self.state,
            expr=self.extra_filter,
            metrics=metrics,
            polling=self.poll,
            log_dirs=[*(Path(d) for d in self.log_dirs), *_project_logs(queue_dir, self.read_only)],
            results=self.results,
        )
        app.run()
        return 0


def _project_logs(queue_dir: str, read_only: bool) -> list[Path]:
    """The project's logs folder (where its loops log), as `labtasker task log` reads it."""
    if queue_dir:
        return []
    root = run_context.context(read_only=read_only).root
    return [root / "logs"] if root is not None else []
