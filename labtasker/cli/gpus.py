"""``labtasker loop --gpus 0,1,2,3``: one worker process per GPU (or group of GPUs).

Each worker is ``labtasker loop`` itself, run with the same command line less
``--gpus``, its own ``CUDA_VISIBLE_DEVICES`` and its own session, so a Ctrl-C
on the terminal reaches this supervisor alone, which passes it on to every
worker exactly once; each then puts its task back as a lone loop does. Their
output lines are prefixed with their GPUs.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import IO

from labtasker.cli import output
from labtasker.errors import UsageError

ALL = "all"
# What CUDA_VISIBLE_DEVICES takes: an index, or an id from `nvidia-smi -L` (GPU-..., MIG-...)
_GPU_ID = re.compile(r"\d+|(?:GPU|MIG)-[A-Za-z0-9:/_.-]+")
OWN = ("--gpus", "--gpus-per-task")  # the supervisor's switches, not passed on to the workers


# -------------------------------------------------------------- which GPUs
def parse_gpus(
    text: str, env: Mapping[str, str] | None = None, smi: Callable[[], str | None] | None = None
) -> list[str]:
    """``"0,1,3"`` -> ["0", "1", "3"]; ``"all"`` -> the GPUs this process may use."""
    if text.strip().lower() == ALL:
        return discover(os.environ if env is None else env, smi or nvidia_smi_list)
    gpus = [g.strip() for g in text.split(",") if g.strip()]
    if not gpus:
        raise UsageError("--gpus: give GPU indices such as 0,1,2,3, or all")
    bad = [g for g in gpus if not _GPU_ID.fullmatch(g)]
    if bad:
        raise UsageError(f"--gpus: {bad[0]!r} is not a GPU index or id (e.g. --gpus 0,1,2,3)")
    if len(set(gpus)) != len(gpus):
        raise UsageError(f"--gpus {text}: a GPU is listed twice")
    return gpus


def discover(env: Mapping[str, str], smi: Callable[[], str | None]) -> list[str]:
    """The GPUs of ``--gpus all``: those CUDA_VISIBLE_DEVICES allows when set (a scheduler's
    allocation), else every GPU ``nvidia-smi -L`` lists."""
    if "CUDA_VISIBLE_DEVICES" in env:
        allowed = [g.strip() for g in env["CUDA_VISIBLE_DEVICES"].split(",") if g.strip()]
        if not allowed:
            raise UsageError("--gpus all: CUDA_VISIBLE_DEVICES is empty, so no GPU may be used")
        return allowed
    listing = smi()
    if listing is None:
        raise UsageError(
            "--gpus all: no GPU found (nvidia-smi is not installed and CUDA_VISIBLE_DEVICES is not set); "
            "list them, e.g. --gpus 0,1"
        )
    found = re.findall(r"^GPU (\d+):", listing, flags=re.MULTILINE)
    if not found:
        raise UsageError("--gpus all: nvidia-smi -L lists no GPU")
    return found


def nvidia_smi_list() -> str | None:
    """The output of ``nvidia-smi -L``, or None when it is missing or fails."""
    program = shutil.which("nvidia-smi")
    if program is None:
        return None
    try:
        done = subprocess.run([program, "-L"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def groups(gpus: Sequence[str], per_task: int) -> list[list[str]]:
    """The GPUs split into one group per worker."""
    if per_task < 1:
        raise UsageError("--gpus-per-task must be 1 or more")
    if len(gpus) % per_task:
        raise UsageError(
            f"--gpus-per-task {per_task} does not divide {len(gpus)} GPUs ({','.join(gpus)}) into whole groups"
        )
    return [list(gpus[i : i + per_task]) for i in range(0, len(gpus), per_task)]


# ------------------------------------------------------------ worker lines
def worker_argv(raw: Sequence[str], group: Sequence[str], cmd: str | None = None) -> list[str]:
    """The ``labtasker loop`` line for one worker: ours without ``--gpus``, its own ``--worker-id``."""
    argv, i, worker_id = [], 0, None
    raw = list(raw)
    while i < len(raw):
        word = raw[i]
        if word == "--":
            argv.extend(raw[i:])
            break
        name, eq, _ = word.partition("=")
        if name in (*OWN, "--worker-id"):
            value = _ if eq else (raw[i + 1] if i + 1 < len(raw) else "")
            if name == "--worker-id":
                worker_id = value
            i += 1 if eq else 2
            continue
        argv.append(word)
        i += 1
    if worker_id:  # two workers may not share an id: each gets the GPUs it runs on
        argv[:0] = ["--worker-id", f"{worker_id}-gpu{'-'.join(group)}"]
    if cmd is not None and "--cmd" not in argv and "-c" not in argv and "--command" not in argv:
        argv[:0] = ["--cmd", cmd]  # a command read from stdin, which the workers cannot read again
    return [sys.executable, "-m", "labtasker", "loop", *argv]


@dataclass
class Worker:
    """One worker process and its GPUs."""

    gpus: list[str]
    proc: subprocess.Popen[bytes]

    @property
    def label(self) -> str:
        return f"gpu {','.join(self.gpus)}"


def run(raw: Sequence[str], gpu_groups: list[list[str]], cmd: str | None = None) -> int:
    """Start one worker per group, relay their lines, pass on stop signals; the summary exit code."""
    lock = threading.Lock()
    workers = [_start(raw, group, cmd) for group in gpu_groups]
    output.info(f"started {len(workers)} workers: " + "; ".join(w.label for w in workers))
    relays = [
        threading.Thread(target=_relay, args=(stream, out, f"[{w.label}] ", lock), daemon=True)
        for w in workers
        for stream, out in ((w.proc.stdout, sys.stdout), (w.proc.stderr, sys.stderr))
    ]
    for relay in relays:
        relay.start()
    received: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        for w in workers:
            if w.proc.poll() is None:
                w.proc.send_signal(signum)

    saved = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        codes = [w.proc.wait() for w in workers]
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    for relay in relays:
        relay.join(timeout=5)
    return _summary(workers, codes, received)


def _start(raw: Sequence[str], group: list[str], cmd: str | None) -> Worker:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ",".join(group)}
    proc = subprocess.Popen(
        worker_argv(raw, group, cmd),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,  # Ctrl-C reaches us alone; we pass it on once
    )
    return Worker(group, proc)


def _relay(stream: IO[bytes] | None, out: IO[str], prefix: str, lock: threading.Lock) -> None:
    """Copy a worker's lines to ours, each prefixed with its GPUs (whole lines, never interleaved)."""
    if stream is None:
        return
    for raw in iter(stream.readline, b""):
        line = raw.decode(errors="replace").rstrip("\r\n")
        with lock:
            out.write(prefix + line + "\n")
            out.flush()


def _summary(workers: list[Worker], codes: list[int], received: list[int]) -> int:
    """One line for all workers; 0 when all succeeded, 128+signal when stopped, else the first failure."""
    parts = [f"{w.label}: {_how(code)}" for w, code in zip(workers, codes, strict=True)]
    output.info("workers finished: " + "; ".join(parts))
    if received:
        return 128 + received[0]
    return next((_exit_code(c) for c in codes if c != 0), 0)


def _how(code: int) -> str:
    if code == 0:
        return "ok"
    return f"killed by signal {-code}" if code < 0 else f"exit {code}"


def _exit_code(code: int) -> int:
    return 128 - code if code < 0 else code
