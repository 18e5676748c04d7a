"""``labtasker slurm``: run `labtasker loop` workers as a Slurm job array, and watch them."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from plumbum import cli

from labtasker import api
from labtasker.cli import output
from labtasker.cli.base import Command, Group, argtype, positive_seconds
from labtasker.cli.loop import JobSpec, duration_arg
from labtasker.cli.task import positive
from labtasker.errors import LabtaskerError, UsageError
from labtasker.slurm import commands, records
from labtasker.slurm.script import Script, default_grace

MAX_WORKERS = 16  # --workers auto never asks for more than this unless --max-workers says so


@argtype("N|auto")
def workers_arg(text: str) -> int | str:
    """A number of workers, or ``auto``."""
    if text == "auto":
        return text
    return int(positive(text))


class SlurmGroup(Group):
    """Run workers on a Slurm cluster (a job array of `labtasker loop`), and watch them"""


@SlurmGroup.subcommand("submit")
class Submit(Command):
    """Submit a Slurm job array whose elements each run `labtasker loop` on this queue"""

    SWITCH_HINT = (
        "the command goes after --, e.g. `labtasker slurm submit --workers 4 -- python train.py --lr '%(lr)'`"
    )

    DESCRIPTION_MORE = """
    Writes an sbatch script (kept under .labtasker/slurm/), submits it and prints
    the job id. Each element is a worker named slurm-JOB_INDEX.NODE. Slurm's SIGTERM
    (time limit, scancel, preemption) puts the running task back in pending with
    no retry counted, within a grace period shorter than the cluster's KillWait.

        labtasker slurm submit -n 4 --gpus-per-worker 1 -- python t.py '%(lr)'
        labtasker slurm submit -n auto -t 2:00:00 --cmd 'python t.py %(lr)'
        labtasker slurm status
    """

    workers = cli.SwitchAttr(
        ["-n", "--workers"],
        workers_arg,
        mandatory=True,
        help="How many workers (array elements); auto: one per pending task the command can run",
    )
    max_workers = cli.SwitchAttr(
        ["--max-workers"], positive, default=MAX_WORKERS, argname="N", help="The most --workers auto asks for"
    )
    gpus = cli.SwitchAttr(["--gpus-per-worker"], positive, argname="G", help="GPUs per worker (--gres=gpu:G)")
    cpus = cli.SwitchAttr(
        ["--cpus-per-worker"], positive, argname="C", help="CPUs per worker (--cpus-per-task)"
    )
    mem = cli.SwitchAttr(
        ["--mem"], str, argname="MEM", help="Memory per worker, as sbatch takes it (e.g. 16G)"
    )
    time = cli.SwitchAttr(["-t", "--time"], str, argname="TIME", help="Time limit per worker (e.g. 2:00:00)")
    partition = cli.SwitchAttr(["-p", "--partition"], str, argname="P", help="The Slurm partition")
    sbatch_arg = cli.SwitchAttr(
        ["--sbatch-arg"],
        str,
        list=True,
        argname="ARG",
        help="One more sbatch option, e.g. --sbatch-arg=--qos=low",
    )
    job_name = cli.SwitchAttr(
        ["--job-name"], str, argname="NAME", help="The job's name (default labtasker-QUEUE)"
    )
    dry_run = cli.Flag(["--dry-run"], help="Print the script; submit nothing")
    quiet = cli.Flag(["-q", "--quiet"], help="Print only the job id")
    # The loop's own switches, passed on to each worker.
    cmd = cli.SwitchAttr(
        ["-c", "--cmd"], str, argname="STRING", help="A command run by a shell (as for loop)"
    )
    script_path = cli.SwitchAttr(
        ["--script-path"],
        str,
        argname="FILE",
        help="A shell script with %(key) placeholders (a copy is kept)",
    )
    shell = cli.SwitchAttr(
        ["--executable"], str, argname="SHELL", help="The shell for --cmd and --script-path"
    )
    extra_filter = cli.SwitchAttr(
        ["-f", "--extra-filter"], str, argname="EXPR", help="Only run tasks matching this"
    )
    eta_max = cli.SwitchAttr(["--eta-max"], str, argname="DURATION", help="A run taking longer is stopped")
    heartbeat_timeout = cli.SwitchAttr(
        ["--heartbeat-timeout"], positive_seconds, argname="SECONDS", help="Reclaim a silent worker's task"
    )
    heartbeat_interval = cli.SwitchAttr(
        ["--heartbeat-interval"], positive_seconds, argname="SECONDS", help="Renew the lease this often"
    )
    grace = cli.SwitchAttr(
        ["--grace"],
        positive_seconds,
        argname="SECONDS",
        help="A stopped command's time to exit; must be shorter than KillWait (default: KillWait/2, at most 10)",
    )
    count_interrupts = cli.Flag(
        ["--count-interrupts"], help="A run stopped by Slurm counts as a failed attempt"
    )
    retry_backoff = cli.SwitchAttr(["--retry-backoff"], float, argname="SECONDS", help="As for loop")
    max_tasks = cli.SwitchAttr(["--max-tasks"], positive, argname="N", help="Each worker stops after N tasks")
    wait = cli.Flag(["--wait"], help="Workers wait for new tasks instead of ending when none is left")

    def main(self, *command: str) -> int:
        if not self.dry_run:
            commands.require("sbatch")
        if self.eta_max is not None:
            duration_arg(self.eta_max)  # a bad duration is an error here, not on every node
        if self.retry_backoff is not None and self.retry_backoff < 0:
            raise UsageError("--retry-backoff must be 0 or more seconds")
        spec = JobSpec.from_options(command, self.cmd, self.script_path, self.shell)
        if self.extra_filter:
            from labtasker.filters import language as flt

            flt.compile(self.extra_filter)
        kill_wait = commands.kill_wait()
        grace = self._grace(kill_wait)
        ctx = api.context(create=not self.dry_run)
        workers = self._how_many(ctx, spec) if self.workers == "auto" else int(self.workers)
        base = (ctx.root or Path.cwd() / ".labtasker") / "slurm"
        now = _now()
        folder = base / now.strftime("%Y%m%d-%H%M%S") if self.dry_run else records.new_folder(base, now)
        script = Script(
            workers=workers,
            python=sys.executable,
            workdir=str(Path.cwd()),
            output=str(folder / "slurm-%A_%a.out"),
            loop_args=self._loop_args(command, grace, folder),
            env=ctx.env(),
            job_name=self.job_name or f"labtasker-{ctx.queue.path.name}",
            gpus_per_worker=self.gpus,
            cpus_per_worker=self.cpus,
            mem=self.mem,
            time=self.time,
            partition=self.partition,
            sbatch_args=tuple(self.sbatch_arg or ()),
            comment=f"labtasker slurm submit, {now.isoformat(timespec='seconds')}: {workers} workers on {ctx.queue.path}",
        )
        if self.dry_run:
            sys.stdout.write(script.render())
            return 0
        path = records.write(folder, records.SCRIPT, script.render())
        record: dict[str, Any] = {
            "job_id": None,
            "submitted_at": now.isoformat(timespec="seconds"),
            "workers": workers,
            "command": list(command) or self.cmd or self.script_path,
            "queue": str(ctx.queue.path),
            "grace": grace,
            "kill_wait": kill_wait,
        }
        records.save(folder, record)
        record["job_id"] = commands.sbatch(path)
        records.save(folder, record)
        print(record["job_id"])
        if not self.quiet:
            output.info(
                f"submitted job {record['job_id']}: {workers} worker{'s' if workers != 1 else ''} "
                f"(script and Slurm's logs in {folder}); watch with `labtasker slurm status`"
            )
        return 0

    def _how_many(self, ctx: api.Context, spec: JobSpec) -> int:
        from labtasker.slurm.sizing import runnable

        count = runnable(ctx.queue, spec.fields, self.extra_filter, _now())
        if count == 0:
            raise LabtaskerError("no pending task this command can run; nothing submitted")
        if count > self.max_workers:
            output.info(f"{count} pending tasks; asking for {self.max_workers} workers (--max-workers)")
        return min(count, int(self.max_workers))

    def _grace(self, kill_wait: float | None) -> float:
        from labtasker.worker.attempt import DEFAULT_GRACE

        if self.grace is None:
            return default_grace(kill_wait, DEFAULT_GRACE)
        if kill_wait is not None and self.grace >= kill_wait:
            raise UsageError(
                f"--grace {self.grace:g} is not shorter than the cluster's KillWait ({kill_wait:g}s): "
                "Slurm would kill the worker before it puts its task back"
            )
        return float(self.grace)

    def _loop_args(self, command: tuple[str, ...], grace: float, folder: Path) -> list[str]:
        args: list[str] = ["--grace", f"{grace:g}"]
        for switch, value in (
            ("--extra-filter", self.extra_filter),
            ("--eta-max", self.eta_max),
            ("--heartbeat-timeout", self.heartbeat_timeout),
            ("--heartbeat-interval", self.heartbeat_interval),
            ("--retry-backoff", self.retry_backoff),
            ("--max-tasks", self.max_tasks),
            ("--executable", self.shell),
            ("--cmd", self.cmd),
        ):
            if value is not None:
                args += [switch, value if isinstance(value, str) else f"{value:g}"]
        if self.count_interrupts:
            args.append("--count-interrupts")
        if self.wait:
            args.append("--wait")
        if self.script_path:  # a copy for the record, which is also what the workers run
            kept = folder / "loop-script.sh"
            if not self.dry_run:
                shutil.copyfile(self.script_path, kept)
            args += ["--script-path", str(kept)]
        if command:
            args += ["--", *command]
        return args


@SlurmGroup.subcommand("status")
class Status(Command):
    """The submitted arrays: Slurm's view (squeue, sacct) next to the queue's"""

    last = cli.SwitchAttr(["--last"], positive, default=10, argname="N", help="Only the last N submissions")
    fmt = cli.SwitchAttr(
        ["--fmt"],
        cli.Set("table", "json", "jsonl"),
        default="table",
        argname="FORMAT",
        help="table, json or jsonl",
    )

    def main(self) -> int:
        import json

        from labtasker.slurm import status

        commands.require("squeue")
        ctx = api.context()
        base = (ctx.root or Path.cwd() / ".labtasker") / "slurm"
        submitted = records.load_all(base)[-self.last :]
        ids = [str(r["job_id"]) for r in submitted]
        found = status.ours(ctx.queue) if ctx.queue.exists() else status.Ours()
        squeue_rows = commands.squeue(ids)
        sacct_rows = commands.sacct(ids)
        rows = [status.summarize(r, squeue_rows, sacct_rows, found) for r in submitted]
        if self.fmt == "json":
            print(json.dumps(rows, indent=2, default=str))
            return 0
        if self.fmt == "jsonl":
            output.emit(output.jsonl(rows), pager=False)
            return 0
        if not rows:
            output.info(f"nothing submitted from here yet (no records in {base})")
            return 0
        headers = ["JOB", "SUBMITTED", "WORKERS", "SLURM", "ALIVE", "RUNNING", "DONE", "FAILED", "NODES"]
        table = [
            [
                r["job_id"],
                str(r["submitted_at"] or "-").replace("T", " ")[:19],
                str(r["workers"]),
                status.slurm_text(r["slurm"]),
                f"{r['workers_alive']}/{r['workers_seen']}",
                str(r["running"]),
                str(r["done"]),
                str(r["failed"]),
                ",".join(r["nodes"]) or "-",
            ]
            for r in rows
        ]
        output.emit(output.table(table, headers, width=output.terminal_width()), pager=False)
        return 0


def _now() -> Any:
    from labtasker.fsqueue import clock

    return clock.now()
