"""Rendering for the command line: tables, YAML, JSON lines, colour, pager, prompts.

Colour only on a terminal and never with ``NO_COLOR`` set; a pager only on a
terminal when the output would not fit; prompts only when stdin is a terminal
(a command in a pipe never waits for an answer it cannot get).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TextIO

from labtasker.terminal import is_tty as is_tty
from labtasker.terminal import paint as paint
from labtasker.terminal import use_color as use_color

STATUS_STYLE = {"pending": "yellow", "running": "blue", "success": "green", "failed": "red",
                "cancelled": "dim", "active": "green", "suspended": "yellow", "crashed": "red",
                "exited": "dim", "dead": "red", "idle": "dim"}  # fmt: skip
# Columns of free text: they give up their room first when a table is too wide.
FLEX_COLUMNS = ("ARGS", "SUMMARY", "ERROR", "REASON", "NAME", "METADATA", "PATH", "CMD")


def info(text: str) -> None:
    """A note for the user on stderr (never mixed into piped stdout)."""
    print(f"labtasker: {text}", file=sys.stderr, flush=True)


def warn(text: str) -> None:
    """A warning on stderr."""
    print(f"labtasker: {paint('warning:', 'yellow', sys.stderr)} {text}", file=sys.stderr, flush=True)


def can_prompt() -> bool:
    """True when a question can be asked and answered (stdin and stderr are terminals)."""
    return is_tty(sys.stdin) and is_tty(sys.stderr)


def confirm(question: str, default: bool = False) -> bool:
    """Ask a yes/no question on the terminal."""
    choices = "[Y/n]" if default else "[y/N]"
    while True:
        print(f"{question} {choices} ", end="", file=sys.stderr, flush=True)
        answer = sys.stdin.readline()
        if not answer:  # end of input
            return default
        answer = answer.strip().lower()
        if not answer:
            return default
        if answer in ("y", "yes"):
            return True
        if answer in ("n", "no"):
            return False


def ask(question: str, default: str = "") -> str:
    """Ask for a line of text on the terminal; empty keeps the default."""
    shown = f" [{default}]" if default else ""
    print(f"{question}{shown}: ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip()
    return answer or default


# ----------------------------------------------------------------- values
def plain(value: Any) -> Any:
    """A value with datetimes as ISO strings, for JSON and YAML output."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def compact(value: Any) -> str:
    """A one-line rendering of a cell: JSON for containers, ``-`` for nothing."""
    if value is None or value == {} or value == []:
        return "-"
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(plain(value), ensure_ascii=False, separators=(", ", ": "))
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def jsonl(records: Iterable[dict[str, Any]]) -> Iterable[str]:
    """One JSON object per line."""
    import json

    for record in records:
        yield json.dumps(plain(record), ensure_ascii=False, default=str)


def yaml_docs(records: Iterable[dict[str, Any]]) -> Iterable[str]:
    """Each record as an item of one YAML list (the output is a valid YAML file)."""
    import yaml

    for record in records:
        text = yaml.safe_dump([plain(record)], sort_keys=False, allow_unicode=True, width=100)
        yield text.rstrip("\n")


def table(
    rows: Sequence[Sequence[str]],
    headers: Sequence[str],
    *,
    width: int | None = None,
    flex: Sequence[str] = FLEX_COLUMNS,
    stream: TextIO | None = None,
) -> Iterable[str]:
    """Aligned columns drawn by rich; with ``width``, every cell is cut with ``…`` to fit it.

    The free-text columns (``flex``) give up their room first; only then do the
    others shrink too. ``width=None`` shows every cell whole (``--wide``, a pipe).
    """
    from labtasker.cli import table_fit

    return table_fit.render(
        rows, headers, width=width, flex=flex, color=use_color(stream), status_style=STATUS_STYLE
    )


def terminal_width(stream: TextIO | None = None, *, wide: bool = False) -> int | None:
    """The width a table must fit (the terminal's; ``$COLUMNS`` overrides it), or None for
    whole cells: with ``wide``, and for output to a pipe or a file."""
    if wide or not is_tty(stream or sys.stdout):
        return None
    import shutil  # with bz2 and lzma: only for a table or a pager

    return shutil.get_terminal_size().columns


# ------------------------------------------------------------------ pager
def emit(lines: Iterable[str], *, pager: bool = True) -> None:
    """Print lines; on a terminal, through ``$PAGER`` when they do not fit."""
    if not pager or not is_tty(sys.stdout) or not is_tty(sys.stdin):
        for line in lines:
            sys.stdout.write(line + "\n")
        return
    buffered = list(lines)
    import shutil

    height = shutil.get_terminal_size().lines
    if sum(line.count("\n") + 1 for line in buffered) < height - 1:
        for line in buffered:
            sys.stdout.write(line + "\n")
        return
    _page("\n".join(buffered) + "\n")


def _page(text: str) -> None:
    command = os.environ.get("PAGER") or "less"
    env = dict(os.environ)
    env.setdefault("LESS", "FRX")  # quit if one screen, keep colours, leave text on screen
    import shlex
    import subprocess  # only to page: most commands never do

    try:
        proc = subprocess.Popen(shlex.split(command), stdin=subprocess.PIPE, env=env)
    except OSError:  # no pager installed: just print
        sys.stdout.write(text)
        return
    assert proc.stdin is not None
    sys.stdout.flush()
    try:
        proc.stdin.write(text.encode())
        proc.stdin.close()
    except BrokenPipeError:  # the user quit the pager early
        pass
    proc.wait()
