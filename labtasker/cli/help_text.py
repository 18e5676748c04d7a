"""The ``--help`` of every command: usage, what it does, its switches, its commands, examples.

Drawn from the command's own plumbum declarations, without plumbum's
meta-switch block or ``NAME:type`` argument names, wrapped to the terminal.
"""

from __future__ import annotations

import inspect
import shutil
import textwrap
from collections.abc import Iterable
from typing import Any

from labtasker.cli import examples

HIDDEN = ("help-all", "completions")  # not offered in help (still accepted)
NAME_WIDTH = 30  # where the description column starts, at most


def render(app: Any) -> str:
    """The whole help text of a command instance."""
    width = max(60, min(shutil.get_terminal_size().columns, 100))
    path = app.PROGNAME
    out = [f"Usage: {path} {usage(app)}".rstrip(), ""]
    about = (app.DESCRIPTION or type(app).__doc__ or "").strip()
    if about:
        out += [*textwrap.wrap(about, width), ""]
    more = getattr(app, "DESCRIPTION_MORE", None)
    if more:
        out += [*(_wrap_block(textwrap.dedent(more).strip("\n"), width)), ""]
    commands = sorted((n, s) for n, s in app._subcommands.items() if not n.startswith("_"))
    if commands:
        out.append("Commands:")
        out += _two_columns(((n, _summary(s)) for n, s in commands), width)
        out.append("")
    out.append("Switches:")
    out += _two_columns(switch_rows(app), width)
    shown = examples.for_command(path, getattr(app, "EXAMPLES", None))
    if shown:
        out += ["", "Examples:"]
        for command, note in shown:
            out.append(f"  {command}" + (f"   # {note}" if note else ""))
    if commands:
        out += ["", f"Run `{path} COMMAND --help` for a command's switches."]
    return "\n".join(out).rstrip() + "\n"


def usage(app: Any) -> str:
    """``[SWITCHES] TASK_ID`` / ``COMMAND [ARGS...]``, from the command's ``main`` signature."""
    if getattr(app, "USAGE_ARGS", None):
        return str(app.USAGE_ARGS)
    if any(not n.startswith("_") for n in app._subcommands):
        return "[SWITCHES] COMMAND [ARGS...]"
    parts = ["[SWITCHES]"]
    for param in list(inspect.signature(app.main).parameters.values()):
        name = param.name.upper()
        if param.kind is param.VAR_POSITIONAL:
            parts.append(f"[{name}...]")
        elif param.default is not param.empty:
            parts.append(f"[{name}]")
        else:
            parts.append(name)
    return " ".join(parts)


def switch_rows(app: Any) -> list[tuple[str, str]]:
    """(names and argument, help) per switch, by long name; then -h, -v (and --version at the top)."""
    rows: list[tuple[bool, str, tuple[str, str]]] = []
    seen: set[int] = set()
    top = app.parent is None
    for info in app._switches_by_func.values():
        if id(info) in seen or any(n in HIDDEN for n in info.names):
            continue
        seen.add(id(info))
        names = sorted(info.names, key=lambda n: (len(n) > 1, n))
        if all(app._switches_by_name.get(n) is not info for n in names):
            continue
        if "version" in names and not top:
            continue
        shown = ", ".join(f"-{n}" if len(n) == 1 else f"--{n}" for n in names)
        if info.argtype is not None:
            shown += " " + str(info.argname or "VALUE")
        text = " ".join(str(info.help or "").split())
        long_name = next((n for n in names if len(n) > 1), names[0])
        rows.append((info.group == "Meta-switches", long_name.lower(), (shown, text)))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [r[2] for r in rows]


def _summary(sub: Any) -> str:
    try:
        cls = sub.get()
    except Exception:  # a command another module provides, broken: its name still shows
        return ""
    return " ".join(str(cls.DESCRIPTION or cls.__doc__ or "").split())


def _two_columns(rows: Iterable[tuple[str, str]], width: int) -> list[str]:
    rows = list(rows)
    left = min(NAME_WIDTH, max((len(a) for a, _ in rows), default=0)) + 4
    out = []
    for name, text in rows:
        lines = textwrap.wrap(text, max(20, width - left)) or [""]
        if len(name) + 4 > left:
            out.append(f"  {name}")
            out += [" " * left + line for line in lines]
        else:
            out.append(f"  {name.ljust(left - 2)}{lines[0]}".rstrip())
            out += [" " * left + line for line in lines[1:]]
    return out


def _wrap_block(text: str, width: int) -> list[str]:
    """Paragraphs wrapped; indented lines (commands) kept as they are."""
    out: list[str] = []
    for paragraph in text.split("\n\n"):
        lines = paragraph.splitlines()
        if any(line.startswith(" ") for line in lines):
            out += lines
        else:
            out += textwrap.wrap(" ".join(lines), width)
        out.append("")
    return out[:-1]
