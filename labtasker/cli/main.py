"""The root ``labtasker`` (and ``lt``) command and its entry point ``run()``."""

from __future__ import annotations

import sys
from types import ModuleType
from typing import NoReturn

from labtasker import __version__
from labtasker.cli import error_report as errors
from labtasker.cli.base import Group
from labtasker.log import on_import


class Labtasker(Group):
    """A task queue for ML experiments, kept as plain YAML files in .labtasker/"""

    PROGNAME = "labtasker"
    VERSION = __version__
    USAGE = "    labtasker [-v] COMMAND [ARGS...]   (`labtasker COMMAND --help` for each command)\n"


# Each group is imported only when it runs (or for --help), so start-up stays fast.
Labtasker.subcommand("init", "labtasker.cli.init.Init")
Labtasker.subcommand("config", "labtasker.cli.config_cmd.Config")
Labtasker.subcommand("queue", "labtasker.cli.queue_cmd.QueueGroup")
Labtasker.subcommand("task", "labtasker.cli.task.TaskGroup")
Labtasker.subcommand("worker", "labtasker.cli.worker.WorkerGroup")
Labtasker.subcommand("loop", "labtasker.cli.loop.Loop")
Labtasker.subcommand("results", "labtasker.cli.results.Results")
Labtasker.subcommand("skill", "labtasker.cli.skill.SkillGroup")
Labtasker.subcommand("completion", "labtasker.cli.completion.Completion")
Labtasker.subcommand("__complete", "labtasker.cli.completion.Complete")  # hidden: the scripts call it
Labtasker.subcommand("sync", "labtasker.cli.sync.Sync")
Labtasker.subcommand("reconcile", "labtasker.cli.sync.Reconcile")
Labtasker.subcommand("fsck", "labtasker.cli.fsck.Fsck")
Labtasker.subcommand("tui", "labtasker.cli.tui.Tui")
Labtasker.subcommand("event", "labtasker.cli.event.Event")
Labtasker.subcommand("slurm", "labtasker.cli.slurm.SlurmGroup")


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (``sys.argv`` by default); return the exit code."""
    argv = list(sys.argv if argv is None else argv)
    if not argv:
        argv = ["labtasker"]
    try:
        _, code = Labtasker.run(argv, exit=False)
        sys.stdout.flush()
    except SystemExit as exc:
        return _code_of(exc)
    except BrokenPipeError:  # `labtasker task ls | head`: the reader left, which is fine
        _silence_stdout()
        return errors.OK
    except BaseException as exc:
        return errors.report(exc)
    return int(code or 0)


def run() -> NoReturn:
    """Console-script entry point of ``labtasker`` and ``lt``."""
    _log_to_stderr()
    code = main()
    _exit_now(code)
    sys.exit(code)


def _exit_now(code: int) -> None:
    """End the process without the interpreter's teardown, when nothing else is running.

    Tearing down every loaded module and collecting them costs a command about
    7 ms, a sixth of its start-up. What a normal exit does that matters still
    happens: the ``atexit`` functions run (logging's flush, ``weakref.finalize``)
    and stdout and stderr are flushed. Returns (and the caller exits normally)
    when another thread runs, under a tracer or profiler, or when stdout cannot
    be flushed (a normal exit reports that).
    """
    import contextlib
    import os

    threading = sys.modules.get("threading")  # not imported: no other thread was started through it
    if threading is not None and threading.active_count() > 1:
        return
    if sys.gettrace() is not None or sys.getprofile() is not None:
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return  # the normal exit reports it, as it always did
    import atexit

    atexit._run_exitfuncs()
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def _log_to_stderr() -> None:
    """The core's warnings (a quarantined file, a lost task) as ``labtasker: ...`` lines.

    Set up when ``logging`` is first imported (most commands never import it), with the
    level decided now, at start, as when it was set up here."""
    level_debug = errors.debug_enabled()

    def setup(logging: ModuleType) -> None:
        log = logging.getLogger("labtasker")
        if not log.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("labtasker: %(message)s"))
            log.addHandler(handler)
            log.setLevel(logging.DEBUG if level_debug else logging.WARNING)
            log.propagate = False

    on_import(setup)


def _code_of(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return errors.FAILED


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
