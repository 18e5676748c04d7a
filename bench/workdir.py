"""Scratch projects for the benchmark, isolated from the user's own queues."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from labtasker import api, config, run_context
from labtasker.fsqueue import tasks
from labtasker.fsqueue.store import FsQueue

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
_LABTASKER_ENV = (
    "LABTASKER_ROOT", "LABTASKER_QUEUE_DIR", "LABTASKER_QUEUE_NAME", "LABTASKER_NODE_ID",
    "LABTASKER_TASK_ID", "LABTASKER_WORKER_ID", "LABTASKER_LOG_DIR",
)  # fmt: skip
PYCACHE = "pycache"  # in the scratch directory: children keep compiled bytecode, as an installed package does


@dataclass(frozen=True)
class Project:
    """A project folder with its own ``.labtasker/`` root and default queue."""

    folder: Path

    @property
    def root(self) -> Path:
        return self.folder / config.ROOT_NAME

    def queue(self) -> FsQueue:
        cfg = config.load(self.root)
        return FsQueue(cfg.resolved_queue_dir(), node=config.node_id(self.root))

    def env(self) -> dict[str, str]:
        """Environment for a child process working on this project only."""
        env = {k: v for k, v in os.environ.items() if k not in _LABTASKER_ENV}
        env["LABTASKER_ROOT"] = str(self.root)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # else every start compiles labtasker afresh
        env["PYTHONPYCACHEPREFIX"] = str(self.folder.parent / PYCACHE)
        return env

    def activate(self) -> FsQueue:
        """Point this process's Python API at the project; return its queue."""
        for name in _LABTASKER_ENV:
            os.environ.pop(name, None)
        os.environ["LABTASKER_ROOT"] = str(self.root)
        run_context._queues.clear()
        return api.context().queue


class Workdir:
    """A temporary directory holding every project of a run; removed at the end."""

    def __init__(self, parent: Path | None, keep: bool = False) -> None:
        for name in _LABTASKER_ENV:  # the user's queue stays out of reach from here on
            os.environ.pop(name, None)
        parent = parent or BENCH_DIR
        parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=".tmp-", dir=parent))
        self.keep = keep
        self._count = 0

    def compile_bytecode(self) -> None:
        """Compile labtasker for the children first, so no timed start-up pays for it."""
        env = {**os.environ, "PYTHONPYCACHEPREFIX": str(self.path / PYCACHE)}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(REPO / "labtasker"), str(BENCH_DIR)],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def project(self, label: str) -> Project:
        """A fresh project with an empty default queue."""
        self._count += 1
        folder = self.path / f"{self._count:02d}-{label}"
        folder.mkdir()
        root = config.init_root(folder)
        cfg = config.load(root)
        FsQueue.create(cfg.resolved_queue_dir(), cfg.queue_name, node=config.node_id(root))
        return Project(folder)

    def filled(self, label: str, n: int) -> Project:
        """A fresh project whose queue holds ``n`` pending no-op tasks."""
        project = self.project(label)
        queue = project.queue()
        for start in range(0, n, 10_000):
            tasks.submit_many(queue, (task_spec(i) for i in range(start, min(n, start + 10_000))))
        return project

    def close(self) -> None:
        if not self.keep:
            shutil.rmtree(self.path, ignore_errors=True)


def task_spec(i: int) -> dict[str, object]:
    """The task every figure uses: small args of a typical sweep."""
    return {
        "args": {"x": i, "lr": 0.001 * (i % 7 + 1), "model": ("resnet", "vit")[i % 2]},
        "metadata": {"tags": ["bench"]},
    }
