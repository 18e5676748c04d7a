"""sample_queue/ is a valid queue with something in every state, and its generator is deterministic."""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
from pathlib import Path

import pytest

from labtasker.fsqueue import codec, layout
from labtasker.fsqueue.store import FsQueue
from tests.tui.conftest import SAMPLE

MAKE = Path(__file__).with_name("make_sample.py")


def test_every_state_has_tasks_and_the_failures_have_tracebacks() -> None:
    queue = FsQueue(SAMPLE, node="reader")
    counts = queue.count()
    assert all(counts[s] > 0 for s in ("pending", "running", "success", "failed", "cancelled")), counts
    assert queue.names("attempts") and queue.names("workers") and queue.names("deleted")
    for located in queue.iter_docs(["failed"]):
        assert located.doc["last_error"].startswith("Traceback (most recent call last):")
        assert located.doc["retries"] == located.doc["max_retries"]
    for located in queue.iter_docs(["done"]):
        assert isinstance(located.doc["summary"]["acc"], float)


def test_every_file_is_where_and_as_the_core_names_it() -> None:
    queue = FsQueue(SAMPLE, node="lab-node1")
    seen: dict[str, str] = {}
    for dirname in layout.STATE_DIRS.values():
        for name in os.listdir(SAMPLE / dirname):
            doc = codec.load((SAMPLE / dirname / name).read_bytes(), required_key="task_id")
            assert queue.name_for(dirname, doc) == name
            assert layout.status_value(dirname) == doc["status"]
            assert doc["task_id"] not in seen, f"{doc['task_id']} in {seen.get(doc['task_id'])} and {dirname}"
            seen[doc["task_id"]] = dirname
    assert not [n for n in os.listdir(SAMPLE / "tmp") if layout.is_task_file(n)]


def test_the_generator_gives_the_same_bytes_twice(tmp_path: Path) -> None:
    for name in ("a", "b"):
        subprocess.run([sys.executable, str(MAKE), str(tmp_path / name)], check=True, timeout=60)
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    differ = filecmp.dircmp(tmp_path / "a", tmp_path / "b")
    assert not differ.diff_files and not differ.left_only and not differ.right_only


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_fsck_finds_nothing_wrong(sample: FsQueue, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from labtasker.cli.main import main

    monkeypatch.setenv("LABTASKER_QUEUE_DIR", str(sample.path))
    for running in (sample.path / "running").glob("*.yaml"):
        os.utime(running)  # the sample's workers renew their leases, as live ones do
    assert main(["labtasker", "fsck"]) == 0
    assert "clean" in capsys.readouterr().out


def test_fsck_reports_the_samples_leases_once_their_workers_stop(sample: FsQueue, monkeypatch) -> None:
    from labtasker.cli.main import main

    monkeypatch.setenv("LABTASKER_QUEUE_DIR", str(sample.path))
    old = 1_700_000_000  # fixed leases written long ago and never renewed
    for running in (sample.path / "running").glob("*.yaml"):
        os.utime(running, (old, old))
    assert main(["labtasker", "fsck"]) == 1
