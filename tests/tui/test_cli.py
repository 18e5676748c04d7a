"""``labtasker tui``: which queue it opens, and one clear line for every bad start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from labtasker.cli.main import main
from labtasker.cli.tui import open_queue
from labtasker.fsqueue.store import FsQueue
from labtasker.tui.readonly import ReadOnlyQueue


@pytest.mark.parametrize(("argv", "message"), [
    (["/no/such/dir"], "is not a directory"),
    (["."], "is not a queue (it has no queue.yaml)"),
    (["{q}", "-s", "finished"], "invalid value 'finished' for -s: use one of pending, running"),
    (["{q}", "-f", "args.lr >"], "invalid filter"),
    (["{q}"], "needs a terminal"),
])  # fmt: skip
def test_bad_starts_are_one_line_and_exit_2(
    argv: list[str],
    message: str,
    sample: FsQueue,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["labtasker", "tui", *[a.replace("{q}", str(sample.path)) for a in argv]])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("labtasker: error: ") and message in err and "Traceback" not in err


def test_opens_a_queue_dir_a_project_or_the_queue_in_use(
    project: Path, sample: FsQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert open_queue(str(sample.path)).path == sample.path
    in_use = open_queue(None)
    assert in_use.path == project / ".labtasker" / "queues" / "default"
    assert open_queue(str(project)).path == in_use.path
    assert isinstance(open_queue(str(sample.path), read_only=True), ReadOnlyQueue)


def test_the_cli_does_not_import_textual() -> None:
    code = "import sys, labtasker.cli.main, labtasker.cli.tui; sys.exit('textual' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
