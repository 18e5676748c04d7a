"""What a loop prints, the same for ``@labtasker.loop()`` and ``labtasker loop``.

On stderr, each line starting with ``labtasker:``: a line when a task starts
(its id and args, shortened) and when it ends (time, outcome, whether a failure
will be retried, and how many tasks are done, failed and left), a Python job's
traceback, a final tally counting tasks (attempts in brackets), the reason when
nothing ran, and why the loop stopped early. ``quiet`` (or ``LABTASKER_QUIET=1``)
silences the progress (never the line saying why a loop ended early). With several workers on one terminal, lines carry the worker's
short name.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

from labtasker.fsqueue import error_record
from labtasker.worker import required as req

if TYPE_CHECKING:
    from labtasker.fsqueue.store import FsQueue
    from labtasker.worker.attempt import Run
    from labtasker.worker.runner import Tally

ARGS_WIDTH = 60
_STYLE = {"done": "green", "failed": "red"}


def quiet_from_env() -> bool:
    return os.environ.get("LABTASKER_QUIET", "").strip().lower() not in ("", "0", "false", "no")


class Reporter:
    """Prints a loop's progress on stderr (nothing when quiet)."""

    def __init__(self, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.quiet = quiet or quiet_from_env()
        self._stream = stream
        self.prefix = ""  # "[name] " from when several workers share this terminal on

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stderr

    def line(self, text: str, *, always: bool = False) -> None:
        """A ``labtasker:`` line; ``always`` for why a loop ended early, which quiet does not hide."""
        if always or not self.quiet:
            print(f"labtasker: {self.prefix}{text}", file=self.stream, flush=True)

    @contextlib.contextmanager
    def warnings_as_lines(self) -> Iterator[None]:
        """While a Python loop runs, labtasker's warnings (a stopped job, a lost task) print as
        ``labtasker:`` lines, unless the program set up logging itself."""
        log = logging.getLogger("labtasker")
        if log.handlers or logging.getLogger().handlers:
            yield
            return
        handler = logging.StreamHandler(self.stream)
        handler.setFormatter(logging.Formatter(f"labtasker: {self.prefix}%(message)s"))
        log.addHandler(handler)
        try:
            yield
        finally:
            log.removeHandler(handler)

    def paint(self, word: str) -> str:
        from labtasker.terminal import paint

        return paint(word, _STYLE.get(word, "yellow"), self.stream)

    def started(self, run: Run) -> None:
        self.line(f"task {run.task_id} started: {shorten(args_text(run.task.args))}")

    def ended(self, outcome: str, run: Run, tally: Tally, took: float, left: tuple[int, int]) -> None:
        """One line per attempt: outcome, time, what happens next, and the counts so far."""
        if self.quiet:
            return
        what = self.paint(outcome)
        detail = ""
        if outcome == "failed":
            record = error_record.of(_doc_of(run)) or {}
            reason = error_record.headline(record) if record else ""
            detail = (f": {reason}" if reason else "") + f"; {retry_note(run)}"
        elif outcome == "interrupted":
            detail = "; back in pending, no retry counted"
        mine, others = left
        counts = f"{tally.done} done, {tally.failed} failed, {mine} left"
        if others:
            counts += f"; {others} other{'s' if others != 1 else ''} wait{'' if others != 1 else 's'} for a different command"
        self.line(f"task {run.task_id} {what} in {took:.1f}s{detail} ({counts})")

    def traceback(self, text: str) -> None:
        if not self.quiet and text:
            self.stream.write(text if text.endswith("\n") else text + "\n")
            self.stream.flush()

    def finished(self, tally: Tally) -> None:
        self.line("loop finished: " + tally_text(tally))

    def stopped(self, tally: Tally, signame: str, task_back: str | None) -> None:
        where = f"; task {task_back} is back in pending, no retry counted" if task_back else ""
        self.line(f"stopped by {signame}{where} ({tally_text(tally)})", always=True)


def tally_text(tally: Tally) -> str:
    """``12 done, 1 failed (3 attempts)``: tasks, with attempts in brackets where they differ."""
    parts = []
    for outcome in ("done", "failed", "cancelled", "lost", "interrupted"):
        tasks, attempts = tally.tasks_ending(outcome), tally.attempts_ending(outcome)
        if tasks or outcome in ("done", "failed"):
            parts.append(f"{tasks} {outcome}" + (f" ({attempts} attempts)" if attempts > tasks else ""))
    return ", ".join(parts)


def retry_note(run: Run) -> str:
    """``will retry (2/3)`` or ``failed for good (3/3)``, from the task as it is now."""
    doc = _doc_of(run)
    retries, most = int(doc.get("retries") or 0), int(doc.get("max_retries") or 0)
    if doc.get("status") == "pending":
        return f"will retry ({retries + 1}/{most})"
    return f"failed for good ({retries}/{most})"


def _doc_of(run: Run) -> dict[str, Any]:
    found = run.queue.find(run.task_id)
    return dict(found.doc, status=found.dirname) if found else {}


def args_text(args: dict[str, Any], prefix: str = "") -> str:
    parts = []
    for key, value in args.items():
        if isinstance(value, dict) and value:
            parts.append(args_text(value, f"{prefix}{key}."))
        else:
            parts.append(f"{prefix}{key}={value}")
    return ", ".join(parts)


def shorten(text: str, width: int = ARGS_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def crash_text(worker_id: str, history: list[tuple[str, str]], in_a_row: int) -> str:
    """Why the worker was marked crashed, saying what really failed."""
    failed = [tid for tid, outcome in history if outcome == "failed"][-in_a_row:] if in_a_row else []
    distinct = list(dict.fromkeys(failed))
    if len(distinct) == 1:
        what = f"{len(failed)} failed attempts in a row: task {distinct[0]} {len(failed)} times"
    elif len(distinct) == len(failed):
        what = f"{len(failed)} different tasks failed in a row ({', '.join(distinct)})"
    else:
        counts = ", ".join(f"task {t} {failed.count(t)}x" for t in distinct)
        what = f"{len(failed)} failed attempts in a row ({counts})"
    return (
        f"worker {worker_id} was marked crashed after {what}; this loop stops. Fix the cause, then "
        f"start a new loop (or `labtasker worker report {worker_id} active` to reuse this worker)"
    )


def why_nothing_ran(
    queue: FsQueue,
    tree: req.Tree,
    fields: list[str],
    extra_filter: Any,
    allow_extra: bool = False,
    *,
    command: bool = False,
) -> tuple[str, bool]:
    """(why no task ran, whether that is the caller's mistake: no pending task has its args)."""
    pending = [located.doc for _, located in zip(range(1000), queue.iter_docs(["pending"]), strict=False)]
    if not pending:
        return "no pending task to run", False
    fitting = [d for d in pending if req.matches(d.get("args"), tree, allow_extra=allow_extra)]
    if fitting:
        if extra_filter:
            return f"no pending task matched the filter {extra_filter!r}", False
        return "no pending task could be taken (others took them first)", False

    def differences(doc: dict[str, Any]) -> tuple[list[str], list[str]]:
        extra = [] if allow_extra else extra_paths(doc.get("args"), tree)
        return req.missing(doc.get("args"), tree), extra

    doc = min(pending, key=lambda d: sum(map(len, differences(d))))  # the closest task explains best
    missing, extra = differences(doc)
    detail = "; ".join(
        p
        for p in (
            f"it lacks {', '.join(missing)}" if missing else "",
            f"it has extra {', '.join(extra)}" if extra else "",
        )
        if p
    )
    wanted = ", ".join(fields) or "(none)"
    needs, names = (
        ("the command's placeholders", "Placeholders")
        if command
        else ("the function's Required() parameters", "Required() parameters")
    )
    return (
        f"no pending task has exactly the args of {needs} ({wanted}); "
        f"e.g. task {doc['task_id']}: {detail}. {names} and task args must match: no more, no less",
        True,
    )


def extra_paths(args: Any, tree: req.Tree, prefix: str = "") -> list[str]:
    """Arg paths that the required tree does not name."""
    if not isinstance(args, dict) or "*" in tree:
        return []
    out = []
    for key, value in args.items():
        if key not in tree:
            out.append(prefix + key)
        elif isinstance(tree[key], dict):
            out += extra_paths(value, tree[key], f"{prefix}{key}.")
    return out
