"""The sbatch script of a worker array; pure (the caller gives paths, times and the Python to use).

Each array element runs one ``labtasker loop`` in place of the batch shell
(``exec``), so Slurm's SIGTERM (time limit, ``scancel``, preemption) reaches the
loop itself, which stops the task's command, waits its grace period and puts the
task back in pending before Slurm's KillWait runs out.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

# The worker's id names its job, array element and node: `worker ls` and `task ls`
# show where every task ran. Slurm sets these variables in every batch job.
WORKER_ID = '"slurm-${SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}_${SLURM_ARRAY_TASK_ID:-0}.${SLURMD_NODENAME:-$(hostname -s)}"'
WORKER_PREFIX = "slurm-"


def worker_prefix(job_id: str) -> str:
    """The start of the id of every worker of one submitted array."""
    return f"{WORKER_PREFIX}{job_id}_"


@dataclass(frozen=True)
class Script:
    """What one ``labtasker slurm submit`` asks of Slurm and of each worker."""

    workers: int
    python: str  # the interpreter with labtasker installed, as the nodes see it
    workdir: str  # where the loop starts (the submitting directory, on the shared filesystem)
    output: str  # Slurm's own log of each element (%A: job id, %a: array index)
    loop_args: Sequence[str]  # `labtasker loop` switches, then "--" and the command, if any
    env: dict[str, str] = field(default_factory=dict)  # which queue: LABTASKER_ROOT or LABTASKER_QUEUE_DIR
    job_name: str = "labtasker"
    gpus_per_worker: int | None = None
    cpus_per_worker: int | None = None
    mem: str | None = None
    time: str | None = None
    partition: str | None = None
    sbatch_args: Sequence[str] = ()
    comment: str = ""

    def directives(self) -> list[str]:
        out = [f"--job-name={self.job_name}", f"--array=0-{self.workers - 1}", f"--output={self.output}"]
        out.append("--ntasks=1")
        if self.gpus_per_worker:
            out.append(f"--gres=gpu:{self.gpus_per_worker}")
        if self.cpus_per_worker:
            out.append(f"--cpus-per-task={self.cpus_per_worker}")
        if self.mem:
            out.append(f"--mem={self.mem}")
        if self.time:
            out.append(f"--time={self.time}")
        if self.partition:
            out.append(f"--partition={self.partition}")
        out.extend(self.sbatch_args)
        return out

    def render(self) -> str:
        lines = ["#!/bin/bash"]
        if self.comment:
            lines += [f"# {line}" for line in self.comment.splitlines()]
        lines += [f"#SBATCH {shlex.quote(d)}" for d in self.directives()]
        lines.append(f"cd {shlex.quote(self.workdir)} || exit 1")
        lines += [f"export {k}={shlex.quote(v)}" for k, v in sorted(self.env.items())]
        loop = " ".join(shlex.quote(a) for a in self.loop_args)
        lines.append(
            f"exec {shlex.quote(self.python)} -m labtasker loop --worker-id {WORKER_ID} {loop}".rstrip()
        )
        return "\n".join(lines) + "\n"


def default_grace(kill_wait: float | None, fallback: float) -> float:
    """A grace period that ends before Slurm's SIGKILL: half of KillWait, at most ``fallback``."""
    if kill_wait is None or kill_wait <= 0:
        return fallback
    return min(fallback, kill_wait / 2)
