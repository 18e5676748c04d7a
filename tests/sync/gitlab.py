"""Real git repositories for the sync tests: a bare remote and clones of an experiment repo."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from labtasker import config
from labtasker.fsqueue.store import FsQueue
from labtasker.replicas.git_sync import SyncReport, sync
from tests.sync.replicas import Replica

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada",
    "GIT_AUTHOR_EMAIL": "ada@lab",
    "GIT_COMMITTER_NAME": "Ada",
    "GIT_COMMITTER_EMAIL": "ada@lab",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **GIT_ENV}, check=False
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


class Clone(Replica):
    """A clone of the experiment repo whose queue is a replica; ``sync()`` is ``labtasker sync``."""

    def __init__(self, path: Path, *, create: bool) -> None:
        root = path / ".labtasker"
        node = config.node_id(root)
        queue_dir = config.load(root).resolved_queue_dir()
        if create or not (queue_dir / "tmp").is_dir():  # as `labtasker` does on a fresh clone
            FsQueue.create(queue_dir, "default", node=node)
        super().__init__(queue_dir, node, create=False)
        self.repo = path

    def sync(self, **kw: object) -> SyncReport:
        return sync(self.queue, **kw)  # type: ignore[arg-type]

    def git(self, *args: str) -> str:
        return git(self.repo, *args)


def make_remote(tmp: Path) -> Path:
    remote = tmp / "remote.git"
    git(tmp, "init", "-q", "--bare", "-b", "main", str(remote))
    return remote


def first_clone(tmp: Path, remote: Path, node: str | None = None, template: Path | None = None) -> Clone:
    """The experiment repo: code, a .labtasker/ folder, pushed to the remote."""
    repo = tmp / "a"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for key, value in GIT_ENV.items():
        if key.startswith("GIT_AUTHOR_"):
            git(repo, "config", f"user.{key.split('_')[-1].lower()}", value)
    (repo / "train.py").write_text("print('train')\n")
    config.init_root(repo)
    git(repo, "add", "train.py", ".labtasker/config.toml", ".labtasker/.gitignore")
    git(repo, "commit", "-q", "-m", "experiment")
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "-u", "origin", "main")
    if node:
        (repo / ".labtasker" / "node_id").write_text(node + "\n")
    if template is not None:
        shutil.copytree(
            template, repo / ".labtasker" / "queues" / "default", ignore=shutil.ignore_patterns("tmp")
        )
    return Clone(repo, create=True)


def clone(tmp: Path, remote: Path, name: str, node: str | None = None) -> Clone:
    git(tmp, "clone", "-q", str(remote), str(tmp / name))
    if node:
        (tmp / name / ".labtasker" / "node_id").write_text(node + "\n")
    for key, value in GIT_ENV.items():
        if key.startswith("GIT_AUTHOR_"):
            git(tmp / name, "config", f"user.{key.split('_')[-1].lower()}", value)
    return Clone(tmp / name, create=not (tmp / name / ".labtasker" / "queues").exists())
