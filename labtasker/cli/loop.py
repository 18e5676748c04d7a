"""``labtasker loop``: run a command once per pending task whose args fill its placeholders."""

from __future__ import annotations

import os
import shutil
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plumbum import cli

from labtasker import api
from labtasker.cli import child, output
from labtasker.cli import error_report as errors
from labtasker.cli.base import Command, argtype, positive_seconds
from labtasker.cli.task import positive
from labtasker.cli.template import Template
from labtasker.errors import LabtaskerError, LeaseLost, UsageError
from labtasker.fsqueue import durations, error_record
from labtasker.worker import loop_report, run_logs, runner
from labtasker.worker import required as req
from labtasker.worker.attempt import SIGNAL
from labtasker.worker.interrupts import forwarded


class JobFailed(Exception):
    """The command of a run exited with a non-zero code (``record``: the task's error record)."""

    def __init__(self, message: str, record: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.record = record or error_record.make("CommandFailed", message)


@argtype("duration")
def duration_arg(text: str) -> float:
    """A duration such as 90, 45m or 1h30m, in seconds."""
    value = durations.parse(text)
    assert value is not None
    return value


@dataclass(frozen=True)
class JobSpec:
    """What to run for a task: an argv of templates, or shell text, or a script."""

    mode: str  # "argv", "cmd" or "script"
    templates: tuple[Template, ...]
    executable: str | None = None

    @classmethod
    def from_options(
        cls, command: tuple[str, ...], cmd: str | None, script_path: str | None, executable: str | None
    ) -> JobSpec:
        """Validate the command options; UsageError before any task is taken."""
        given = [
            name
            for name, v in (("a command after --", command), ("--cmd", cmd), ("--script-path", script_path))
            if v
        ]
        if len(given) != 1:
            raise UsageError(
                "give the command to run in one way: after -- (run without a shell), "
                "--cmd 'STRING' (run by a shell) or --script-path FILE"
                + (f"; got {' and '.join(given)}" if given else "")
            )
        if command:
            if executable:
                raise UsageError(
                    "--executable is the shell for --cmd and --script-path; "
                    "after -- the command runs without a shell"
                )
            spec = cls("argv", tuple(Template.parse(word) for word in command))
            spec.check_program()
            return spec
        if cmd is not None:
            return cls("cmd", (Template.parse(cmd, shell=True),), executable)
        return cls("script", (Template.parse(_read_script(script_path or ""), shell=True),), executable)

    @property
    def fields(self) -> list[str]:
        """Every placeholder: the args a task must have, no more, no less."""
        return list(dict.fromkeys(f for t in self.templates for f in t.fields))

    def check_program(self) -> None:
        program = self.templates[0].parts
        if len(program) == 1 and isinstance(program[0], str) and not _findable(program[0]):
            raise UsageError(f"command not found: {program[0]!r} (check the command after --)")

    def argv(self, args: dict[str, Any], log_dir: Path) -> list[str]:
        """The command line for one task's args."""
        if self.mode == "argv":
            return [t.render(args) for t in self.templates]
        text = self.templates[0].render(args, shell=True)
        shell = self.executable or "/bin/sh"
        if self.mode == "cmd":
            return [shell, "-c", text]
        script = log_dir / "script.sh"  # kept with the run's log, to see what ran
        script.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        if self.executable is None and text.startswith("#!"):
            script.chmod(0o755)
            return [str(script)]
        return [shell, str(script)]


def _read_script(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read --script-path {path}: {exc.strerror or exc}") from None


def _findable(program: str) -> bool:
    if os.sep in program:
        return os.access(program, os.X_OK)
    return shutil.which(program) is not None


class Loop(Command):
    """Run a command for each pending task whose args fill its %(placeholders)"""

    SWITCH_HINT = "the command goes after --, e.g. `labtasker loop -- python train.py --lr '%(lr)'`"

    DESCRIPTION_MORE = """
    Runs until no matching pending task is left. SIGINT, SIGTERM or SIGHUP stop
    the command (then SIGKILL after --grace) and put its task back in pending
    with no retry counted; the exit code is then 128 + the signal.
    """

    cmd = cli.SwitchAttr(
        ["-c", "--cmd", "--command"],
        str,
        argname="STRING",
        help="A command run by a shell; placeholder values are quoted for it",
    )
    script_path = cli.SwitchAttr(
        ["--script-path"], str, argname="FILE", help="A (multi-line) shell script with %(key) placeholders"
    )
    shell = cli.SwitchAttr(
        ["--executable"], str, argname="SHELL", help="The shell for --cmd and --script-path (default /bin/sh)"
    )
    extra_filter = cli.SwitchAttr(
        ["-f", "--extra-filter"],
        str,
        argname="EXPR",
        help="Only run tasks matching this filter, e.g. '\"v1\" in list(metadata.tags)'",
    )
    eta_max = cli.SwitchAttr(
        ["--eta-max"],
        duration_arg,
        argname="DURATION",
        help="A run taking longer than this (e.g. 1h30m) is stopped and retried",
    )
    heartbeat_timeout = cli.SwitchAttr(
        ["--heartbeat-timeout"],
        positive_seconds,
        argname="SECONDS",
        help="Reclaim a task whose worker was silent this long",
    )
    heartbeat_interval = cli.SwitchAttr(
        ["--heartbeat-interval"],
        positive_seconds,
        argname="SECONDS",
        help="Renew the running task's lease this often (default 30)",
    )
    worker_id = cli.SwitchAttr(["--worker-id"], str, argname="ID", help="Run as this worker (created if new)")
    max_tasks = cli.SwitchAttr(["--max-tasks"], positive, argname="N", help="Stop after N tasks")
    wait = cli.Flag(["--wait"], help="When no task is left, keep waiting for new ones")
    use_pty = cli.Flag(
        ["--use-pty"],
        excludes=["--no-use-pty"],
        help="Run the command under a pseudo-terminal, even without one of our own (the default)",
    )
    no_pty = cli.Flag(
        ["--no-use-pty", "--no-pty"], help="Run the command with plain pipes, not a pseudo-terminal"
    )
    grace = cli.SwitchAttr(
        ["--grace"],
        positive_seconds,
        argname="SECONDS",
        help="A stopped command gets this long to exit before SIGKILL (default 10)",
    )
    count_interrupts = cli.Flag(
        ["--count-interrupts"],
        help="A run stopped by a signal counts as a failed attempt (by default: back to pending, no retry)",
    )
    retry_backoff = cli.SwitchAttr(
        ["--retry-backoff"],
        float,
        argname="SECONDS",
        help="A failed task waits this long before its first retry, doubling each time (default 1; 0: none)",
    )
    quiet = cli.Flag(["-q", "--quiet"], help="Print no progress lines (also LABTASKER_QUIET=1)")
    gpus = cli.SwitchAttr(
        ["--gpus"],
        str,
        argname="LIST",
        help="One worker per GPU, each with its own CUDA_VISIBLE_DEVICES: e.g. 0,1,2,3, or all",
    )
    gpus_per_task = cli.SwitchAttr(
        ["--gpus-per-task"], positive, argname="N", requires=["--gpus"], help="Give each worker N of the GPUs"
    )

    def _parse_args(self, argv: list[str]) -> Any:
        self.raw_argv = list(argv)  # kept for --gpus: each worker runs the same line
        return super()._parse_args(argv)

    def main(self, *command: str) -> int:
        cmd = self.cmd
        if not command and cmd is None and self.script_path is None and not output.is_tty(sys.stdin):
            cmd = sys.stdin.read().strip() or None  # `echo 'CMD' | labtasker loop`, as the original took it
        spec = JobSpec.from_options(command, cmd, self.script_path, self.shell)
        tree = req.build_tree(spec.fields)
        # A command without placeholders reads its task itself (task_info(), $LABTASKER_TASK_ID):
        # any args will do, as for a Python loop with no Required() fields.
        any_args = not spec.fields
        if self.extra_filter:  # a bad filter is an error before any task is taken
            from labtasker.filters import language as flt

            flt.compile(self.extra_filter)
        if self.retry_backoff is not None and self.retry_backoff < 0:
            raise UsageError("--retry-backoff must be 0 or more seconds")
        if self.gpus is not None:  # checked above once, then run by one worker per GPU group
            from labtasker.cli import gpus

            found = gpus.groups(gpus.parse_gpus(self.gpus), self.gpus_per_task or 1)
            return gpus.run(self.raw_argv, found, cmd if cmd != self.cmd else None)
        report = loop_report.Reporter(quiet=self.quiet)
        # Under a pseudo-terminal by default, with or without a terminal of our own (nohup,
        # Slurm, a pipe), so isatty() checks and progress bars behave the same everywhere.
        job = _Job(spec, use_pty=not self.no_pty and os.name == "posix")
        try:
            tally = api.run_loop(job, tree, allow_extra=any_args, **self._loop_options(), report=report)
        except (runner.StopLoop, KeyboardInterrupt):  # only where the loop could not take the signals
            output.info("stopped; the task that was running is back in pending")
            return errors.INTERRUPTED
        if tally.stopped_by:
            report.stopped(tally, tally.stopped_by, tally.interrupted_task)
            return tally.exit_code
        report.finished(tally)
        if tally.crashed:
            raise LabtaskerError(tally.crashed)  # exit code 1
        if tally.total == 0:
            reason, mistake = loop_report.why_nothing_ran(
                api.context().queue, tree, spec.fields, self.extra_filter, any_args, command=True
            )
            if mistake:
                raise UsageError(reason)
            report.line(reason)
        return 0

    def _loop_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "extra_filter": self.extra_filter,
            "eta_max": self.eta_max,
            "heartbeat_timeout": self.heartbeat_timeout,
            "worker_id": self.worker_id,
            "max_tasks": self.max_tasks,
            "wait": self.wait,
            "heartbeat_interval": self.heartbeat_interval,
            "grace": self.grace,
            "count_interrupts": self.count_interrupts,
            "retry_backoff": self.retry_backoff,
        }
        return options


class _Job:
    """Runs the command for one task (called by the loop engine with a ``runner.Run``)."""

    def __init__(self, spec: JobSpec, use_pty: bool) -> None:
        self.spec = spec
        self.use_pty = use_pty

    def __call__(self, run: runner.Run) -> None:
        # Reading lease_lost tells the engine this job stops itself (it polls it
        # below), so it never interrupts us mid-way with an exception.
        run.lease_lost  # noqa: B018
        argv = self.spec.argv(run.task.args, run_logs.made(run.log_dir))
        env = {**os.environ, **run.env()}  # with task_info.json: the command may ask for it
        log_path = run.log_dir / run_logs.LOG
        with open(log_path, "ab") as log:
            log.write(f"# labtasker: task {run.task_id}: {_shown(argv)}\n".encode())
        if errors.debug_enabled():
            output.info(f"task {run.task_id}: {_shown(argv)}")

        def stop() -> int:
            if not run.lease_lost:
                return 0
            return forwarded(run.signum) if run.stop_kind == SIGNAL else signal.SIGTERM

        try:
            result = child.run(
                argv,
                env=env,
                log_path=log_path,
                use_pty=self.use_pty,
                stop=stop,
                hard=run.hard.is_set,
                grace=run.grace,
            )
        except KeyboardInterrupt:
            raise runner.StopLoop from None
        except OSError as exc:
            raise JobFailed(f"cannot run {argv[0]!r}: {exc.strerror or exc}") from None
        run.exit_status = result.code
        if result.stopped:
            reason = run.stop_reason or "its lease was lost"
            raise LeaseLost(f"task {run.task_id}: {reason}; its command was stopped")
        if result.code != 0:
            if _stop_signal(result.code) and run.interrupts is not None:
                # A stop sent to the whole job (Slurm, a terminal's Ctrl-C, a process-group kill) may
                # reach the command a moment before this loop: wait for ours, so it is a stop, not a failure.
                run.interrupts.requested.wait(STOP_SKEW)
            raise JobFailed(*_failure(result))


STOP_SKEW = 1.0  # seconds a command's death by a stop signal waits for the loop's own


def _stop_signal(code: int) -> bool:
    """True if an exit code says the command died of SIGINT, SIGTERM or SIGHUP (-N, or 128 + N from a shell)."""
    stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    return any(code in (-sig, 128 + sig) for sig in stops)


def _failure(result: child.Result) -> tuple[str, dict[str, Any]]:
    """The message and error record of a command that failed: its exit, its last lines of output."""
    code = result.code
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    tail = result.tail.decode(errors="replace").replace("\r", "\n").strip().splitlines()[-20:]
    last = next((line.strip() for line in reversed(tail) if line.strip()), "")
    message = f"the command {how}" + (f": {last}" if last else "")
    record = error_record.make("CommandFailed", message, "\n".join(tail) if tail else None)
    return message, record


def _shown(argv: list[str]) -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in argv)
