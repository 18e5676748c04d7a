"""Where a task's run logs are: one folder per run, ``<logs>/run/<stamp>--<task_id>/run.log``.

A loop writes each run's output there and ends the log with a footer line
(``# labtasker: exit status 0, done, 1.2s on host``). The folder is made at a
run's first write: a Python job that prints nothing and is done leaves no log
(its outcome is in the task file). ``labtasker task log`` and the TUI's log
tab both find runs here, oldest first. Only listings: no parsing of the logs
themselves.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

from labtasker.fsqueue import layout

FOOTER = "# labtasker: "  # the first words of the line a loop ends each run log with
LOG = "run.log"


def made(folder: Path) -> Path:
    """A run's log folder, made now (a job that is handed the folder may write there)."""
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_log(folder: Path) -> TextIO:
    """A run's ``run.log`` opened to append, its folder made if need be."""
    path = folder / LOG
    try:
        return open(path, "a", encoding="utf-8")
    except FileNotFoundError:
        return open(made(folder) / LOG, "a", encoding="utf-8")


def log_dirs(queue_path: Path, root: Path | None = None, extra: list[Path] | None = None) -> list[Path]:
    """Where run logs of this queue may be: given dirs, ``<root>/logs``, ``<queue>/logs``."""
    dirs = list(extra or [])
    if root is not None:
        dirs.append(root / "logs")
    dirs.append(queue_path / "logs")
    if queue_path.parent.name == "queues":  # <root>/queues/<name>: the loop logs to <root>/logs
        dirs.append(queue_path.parent.parent / "logs")
    return list(dict.fromkeys(dirs))


def runs(dirs: list[Path], task_id: str) -> list[Path]:
    """The ``run.log`` of every run of a task, oldest first (run folders sort by their start)."""
    suffix = f"{layout.SEP}{task_id}"
    found: dict[str, Path] = {}
    for base in dirs:
        folder = base / "run"
        try:
            names = os.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for name in names:
            log = folder / name / "run.log"
            if name.endswith(suffix) and name not in found and log.is_file():
                found[name] = log
    return [found[name] for name in sorted(found)]


def latest(dirs: list[Path], task_id: str) -> Path | None:
    """The ``run.log`` of a task's latest run, or None."""
    found = runs(dirs, task_id)
    return found[-1] if found else None


def has_footer(text: str) -> bool:
    """Does a log's text end with the line a loop writes when the run is over?"""
    lines = text.rstrip("\n").rsplit("\n", 1)
    return lines[-1].startswith(FOOTER)
