"""Slurm's own commands (sbatch, squeue, sacct, scontrol), run through plumbum.

The only module here that runs anything; everything else is given its output.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from labtasker.errors import LabtaskerError, UsageError

TIMEOUT = 30  # seconds: a controller that does not answer is an error, not a hang


class SlurmMissing(UsageError):
    """Slurm's commands are not installed here (exit code 2)."""


class SlurmFailed(LabtaskerError):
    """A Slurm command ran and refused (its own message follows)."""


def available(program: str = "sbatch") -> bool:
    return shutil.which(program) is not None


def require(program: str) -> None:
    """SlurmMissing, in one line, where ``program`` is not on PATH."""
    if not available(program):
        raise SlurmMissing(
            f"Slurm is not installed here ({program} not found on PATH); "
            "run this on a cluster's login node, or use --dry-run to see the script"
        )


def _run(program: str, *args: str) -> tuple[int, str, str]:
    from plumbum import local
    from plumbum.commands.processes import ProcessTimedOut

    require(program)
    try:
        code, out, err = local[program].run(args, retcode=None, timeout=TIMEOUT)
    except ProcessTimedOut:
        raise SlurmFailed(f"{program} did not answer within {TIMEOUT}s (is slurmctld up?)") from None
    return int(code), str(out), str(err)


def sbatch(script: Path) -> str:
    """Submit ``script``; the job id."""
    code, out, err = _run("sbatch", "--parsable", str(script))
    if code != 0:
        raise SlurmFailed(f"sbatch refused the job: {_first_line(err or out)}")
    job_id = out.strip().split(";", 1)[0]  # --parsable prints "id" or "id;cluster"
    if not job_id.isdigit():
        raise SlurmFailed(f"sbatch printed no job id: {_first_line(out or err)}")
    return job_id


SQUEUE_FIELDS = ("job", "array_job", "array_task", "state", "elapsed", "left", "node", "reason")


def squeue(job_ids: list[str]) -> list[dict[str, str]]:
    """One row per array element still known to the controller (pending ones as ranges)."""
    if not job_ids or not available("squeue"):
        return []
    code, out, _ = _run("squeue", "-h", "-j", ",".join(job_ids), "-o", "%i|%F|%K|%T|%M|%L|%N|%r")
    if code != 0:  # e.g. every job already purged ("Invalid job id specified")
        return []
    return [
        dict(zip(SQUEUE_FIELDS, line.split("|"), strict=True))
        for line in out.splitlines()
        if line.count("|") == 7
    ]


SACCT_FIELDS = ("job", "state", "elapsed", "node", "exit")


def sacct(job_ids: list[str]) -> list[dict[str, str]]:
    """Accounting rows for finished elements too; empty where accounting is off."""
    if not job_ids or not available("sacct"):
        return []
    code, out, _ = _run(
        "sacct",
        "-n",
        "-P",
        "-X",
        "-j",
        ",".join(job_ids),
        "--format",
        "JobID,State,Elapsed,NodeList,ExitCode",
    )
    if code != 0:
        return []
    return [
        dict(zip(SACCT_FIELDS, line.split("|"), strict=True))
        for line in out.splitlines()
        if line.count("|") == 4
    ]


def time_left(job_id: str) -> str | None:
    """squeue's time left (``%L``) for one job, or None when it cannot be asked."""
    if not available("squeue"):
        return None
    try:
        code, out, _ = _run("squeue", "-h", "-j", job_id, "-o", "%L")
    except LabtaskerError:
        return None
    lines = out.split()
    return lines[0] if code == 0 and lines else None


def kill_wait() -> float | None:
    """The cluster's KillWait in seconds (how long after SIGTERM Slurm sends SIGKILL)."""
    if not available("scontrol"):
        return None
    try:
        code, out, _ = _run("scontrol", "show", "config")
    except LabtaskerError:
        return None
    match = re.search(r"^KillWait\s*=\s*(\d+)", out, re.MULTILINE)
    return float(match.group(1)) if code == 0 and match else None


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "(no message)"
