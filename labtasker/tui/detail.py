"""What the detail pane shows for one file: its YAML, error, attempts and run log.

Runs in a worker thread. The YAML is the file's bytes as they are on disk, not
a re-serialisation, so what you see is what ``cat`` shows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labtasker.fsqueue import attempts, error_record, layout, ran_with, tombstones
from labtasker.fsqueue.store import FsQueue
from labtasker.tui.scan import DIRNAME
from labtasker.worker import run_logs

MAX_FILE_BYTES = 256 * 1024
TAIL_BYTES = 64 * 1024
TAIL_LINES = 300


@dataclass
class Detail:
    """Everything the detail pane needs about one file of a state."""

    state: str
    name: str
    task_id: str = ""
    text: str = ""
    doc: dict[str, Any] = field(default_factory=dict)
    attempts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    log_path: Path | None = None
    log: str = ""
    log_label: str = ""
    gone: bool = False
    deleted: dict[str, Any] | None = None  # the task's tombstone (tombstones.record), if it was deleted

    @property
    def notes(self) -> list[str]:
        """Lines above the YAML: who deleted the task when; args that changed since the result."""
        out = []
        if self.deleted is not None:
            by, when = self.deleted.get("deleted_by") or "?", self.deleted.get("deleted_at")
            out.append(
                f"task deleted by {by} at {when.isoformat(sep=' ', timespec='seconds') if when else '?'}"
            )
        if self.state in ("success", "failed") and ran_with.changed(self.doc):
            out.append(f"result ran with {', '.join(ran_with.differences(self.doc))}; args changed since")
        return out

    @property
    def error(self) -> str:
        return error_record.text(self.doc.get("last_error")) or ""  # a stored mapping, as lines

    @property
    def running(self) -> bool:
        return self.state == "running" and not self.gone


def load(queue: FsQueue, state: str, name: str, log_dirs: list[Path]) -> Detail:
    """Read one file of a state and what belongs to its task."""
    dirname = DIRNAME[state]
    detail = Detail(state, name)
    path = queue.path / dirname / name
    detail.text = read_text(path)
    if not detail.text:
        detail.gone = True
        return detail
    if state == "quarantine":
        return detail
    doc = queue.read(dirname, name)
    if doc is None:
        detail.gone = True
        return detail
    detail.doc = doc
    detail.task_id = str(doc.get("task_id") or layout.task_id_of(dirname, name))
    detail.attempts = attempts_of(queue, detail.task_id)
    if state == "attempts":  # a run of a task that may be gone: say who deleted it when
        tombs = tombstones.read(queue, detail.task_id).get(detail.task_id)
        detail.deleted = tombstones.record(detail.task_id, tombs) if tombs else None
    detail.log_path = find_run_log(log_dirs, detail.task_id)
    if detail.log_path is not None:
        detail.log = tail(detail.log_path)
        detail.log_label = _shown_path(detail.log_path, queue.path.absolute().parent)
    return detail


def _shown_path(path: Path, base: Path) -> str:
    """A path relative to the folder holding the queue, when it is inside it."""
    try:
        return str(path.absolute().relative_to(base))
    except ValueError:
        return str(path)


def read_text(path: Path, limit: int = MAX_FILE_BYTES) -> str:
    """A file's text as on disk (cut at ``limit`` bytes), or '' if it is gone."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except (FileNotFoundError, IsADirectoryError):
        return ""
    text = data[:limit].decode("utf-8", errors="replace")
    return text + ("\n… (cut)" if len(data) > limit else "")


def attempts_of(queue: FsQueue, task_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The recorded attempts (late, lost or replaced runs) of one task, oldest first."""
    return attempts.read(queue, task_id)


def log_dirs_for(queue_path: Path, extra: list[Path] | None = None) -> list[Path]:
    """Where run logs of this queue may be: given dirs, ``<queue>/logs``, ``<root>/logs``."""
    return run_logs.log_dirs(queue_path, extra=extra)


def find_run_log(log_dirs: list[Path], task_id: str) -> Path | None:
    """The ``run.log`` of the latest run of a task, the one ``labtasker task log`` prints."""
    return run_logs.latest(log_dirs, task_id)


def tail(path: Path, max_bytes: int = TAIL_BYTES, max_lines: int = TAIL_LINES) -> str:
    """The last lines of a log file ('' if it is gone)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except FileNotFoundError:
        return ""
    lines = data.decode("utf-8", errors="replace").splitlines()
    if size > max_bytes and lines:
        lines = lines[1:]  # the first line was cut in the middle
    return "\n".join(lines[-max_lines:])
