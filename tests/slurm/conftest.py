"""A real single-node Slurm for the tests: started by scripts/slurm-test-cluster.sh, as root.

Without the Slurm packages the cluster tests are skipped, except in CI, where
`.ci/run` installs them and a missing Slurm is a failure. Under pytest-xdist
several sessions share one cluster: each holds a shared lock on it, and the
session that started it stops it only once it can take that lock alone.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import labtasker

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "slurm-test-cluster.sh"
CODE = Path(labtasker.__file__).resolve().parents[1]  # the labtasker under test, for the nodes too
DIR = Path(os.environ.get("LABTASKER_SLURM_DIR", "/tmp/labtasker-slurm"))
PROGRAMS = ("slurmctld", "slurmd", "sbatch", "squeue", "scancel", "munged")


def _missing() -> list[str]:
    return [p for p in PROGRAMS if not (shutil.which(p) or Path(f"/usr/sbin/{p}").exists())]


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[Path]:
    """The cluster's slurm.conf; SLURM_CONF points at it for the whole session."""
    missing = _missing()
    reason = ""
    if missing:
        reason = f"Slurm is not installed ({', '.join(missing)} missing: apt-get install slurmctld slurmd slurm-client munge)"
    elif os.geteuid() != 0:
        reason = "the test cluster must be started as root"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; .ci/run should have set it up")
        pytest.skip(reason)
    DIR.mkdir(parents=True, exist_ok=True)
    users = open(DIR / "users.lock", "a+")  # noqa: SIM115 (held for the whole session)
    with open(DIR / "start.lock", "a+") as start_lock:
        fcntl.flock(start_lock, fcntl.LOCK_EX)
        running = subprocess.run(["bash", str(SCRIPT), "status"], capture_output=True).returncode == 0
        if not running:
            started = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True)
            if started.returncode != 0:
                pytest.fail(f"the test cluster did not start: {started.stderr.strip()}")
        fcntl.flock(users, fcntl.LOCK_SH)
    conf = DIR / "slurm.conf"
    saved = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(conf)
    try:
        yield conf
    finally:
        if saved is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = saved
        if not running:  # ours: stop it once no other session uses it
            fcntl.flock(users, fcntl.LOCK_UN)
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                try:
                    fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    time.sleep(0.5)
            subprocess.run(["bash", str(SCRIPT), "stop"], capture_output=True)
        users.close()


@dataclass
class Ran:
    code: int
    out: str
    err: str


@dataclass
class Project:
    """A project folder on the "shared filesystem" and the labtasker command run in it."""

    path: Path

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LABTASKER_", "SLURM_JOB"))}
        env["PYTHONPATH"] = str(CODE) + os.pathsep + env.get("PYTHONPATH", "")
        env["NO_COLOR"] = "1"
        return env

    def lt(self, *argv: str, check: bool = True) -> Ran:
        done = subprocess.run(
            [sys.executable, "-m", "labtasker", *argv],
            cwd=self.path,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"labtasker {' '.join(argv)} exited {done.returncode}: {done.stderr}")
        return Ran(done.returncode, done.stdout, done.stderr)

    def python(self, code: str) -> str:
        """Run Python code in the project folder (e.g. to submit many tasks in one process)."""
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=self.path,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def submit(self, *argv: str) -> str:
        """``labtasker slurm submit ARGV``: the job id."""
        return self.lt("slurm", "submit", "-q", *argv).out.strip()

    def tasks(self) -> list[dict]:
        import json

        out = self.lt("task", "ls", "--fmt", "jsonl", "--limit", "1000").out
        return [json.loads(line) for line in out.splitlines()]

    def slurm_log(self, job: str, index: int) -> str:
        logs = list((self.path / ".labtasker" / "slurm").glob(f"*/slurm-{job}_{index}.out"))
        return logs[0].read_text() if logs else ""


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[[str], Project]:
    def make(name: str = "project") -> Project:
        folder = tmp_path / name
        folder.mkdir()
        return Project(folder)

    return make


def squeue_states(job: str) -> dict[str, str]:
    """Array index -> state, for the elements of ``job`` Slurm still lists."""
    out = subprocess.run(
        ["squeue", "-h", "-r", "-j", job, "-o", "%K %T"], capture_output=True, text=True
    ).stdout
    return dict(line.split() for line in out.splitlines() if len(line.split()) == 2)


from tests.cli.conftest import lt  # noqa: E402, F401 (the in-process command line, for the offline tests)
