"""The commands: ``labtasker sync``, ``reconcile``, ``fsck`` and ``task reserve`` as a user runs them."""

from __future__ import annotations

import io
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from labtasker import api, run_context
from labtasker.cli import error_report as errors
from labtasker.cli.main import main
from labtasker.fsqueue import layout
from tests.sync.gitlab import git, make_remote


@dataclass
class Ran:
    code: int
    out: str
    err: str


@pytest.fixture
def lt(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def run(*argv: str) -> Ran:
        errors.set_debug(False)
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        run_context._queues.clear()
        code = main(["labtasker", *argv])
        got = capsys.readouterr()
        return Ran(code, got.out, got.err)

    return run


def test_fsck_exit_code_tells_whether_the_queue_is_clean(project: Path, lt) -> None:  # type: ignore[no-untyped-def]
    tid = api.submit_task(args={"x": 1}).task_id
    ok = lt("fsck")
    assert (ok.code, ok.out.strip()) == (0, "clean")
    queue = api.context().queue
    (queue.path / "pending" / "junk.yaml").write_text("<<<<<<< HEAD\n")
    bad = lt("fsck")
    assert bad.code == 1 and "unreadable" in bad.out and "--repair" in bad.out
    fixed = lt("fsck", "--repair")
    assert fixed.code == 0 and fixed.out.startswith("fixed") and "1 file(s) in quarantine/" in fixed.out
    assert api.get_task(tid).status == "pending"
    assert lt("fsck", "-q").out == ""
    assert lt("fsck", "--grace", "soon").code == 2


def test_reserve_sets_tasks_aside_and_release_gives_them_back(project: Path, lt) -> None:  # type: ignore[no-untyped-def]
    ids = [api.submit_task(args={"i": i}).task_id for i in range(5)]
    got = lt("task", "reserve", "--node", "gpu-box", "-f", "args.i >= 2", "--limit", "2", "-q")
    assert got.code == 0 and got.out.split() == ids[2:4]
    names = api.context().queue.names("pending")
    assert sorted(layout.reserved_for(n) or "" for n in names) == ["", "", "", "gpu-box", "gpu-box"]
    found = api.context().queue.find(ids[2])
    assert found is not None and found.doc["reserved_for"] == "gpu-box"
    again = lt("task", "reserve", "--node", "gpu-box", "-f", "args.i >= 2")
    assert again.out.strip() == "reserved 1 task(s) for gpu-box"
    freed = lt("task", "reserve", "--release", "--node", "gpu-box")
    assert freed.out.strip() == "released 3 task(s) reserved for gpu-box"
    assert lt("task", "reserve").code == 2
    assert "invalid" in lt("task", "reserve", "--node", "bad--name").err


def test_reconcile_from_a_copied_folder(project: Path, tmp_path: Path, lt) -> None:  # type: ignore[no-untyped-def]
    tid = api.submit_task(args={"x": 1}).task_id
    queue = api.context().queue
    other = tmp_path / "usb" / "queue"
    shutil.copytree(queue.path, other)
    api.delete_task(tid)
    assert lt("reconcile").out.strip() == "nothing to reconcile"
    got = lt("reconcile", "--from", str(other))
    assert got.code == 0 and "file(s) imported" in got.out
    assert api.ls_tasks().content == [], "the tombstone wins over the copy"
    missing = lt("reconcile", "--from", str(tmp_path / "nowhere"))
    assert missing.code == 1 and "not a queue directory" in missing.err


def test_sync_from_the_command_line(project: Path, tmp_path: Path, lt) -> None:  # type: ignore[no-untyped-def]
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    api.submit_task(args={"x": 1})
    not_git = lt("sync")
    assert not_git.code == 2 and "not inside a git work tree" in not_git.err
    git(project, "init", "-q", "-b", "main")
    assert "no git remote" in lt("sync").err
    remote = make_remote(tmp_path)
    git(project, "remote", "add", "origin", str(remote))
    first = lt("sync")
    assert first.code == 0 and "pushed" in first.out, first.err
    assert lt("sync").out.strip() == "already in sync with origin main"
    shutil.rmtree(remote)
    gone = lt("sync")
    assert gone.code == 1 and "cannot reach origin" in gone.err
