"""``%(key)`` and ``%(a.b)`` placeholders in loop commands; pure.

A placeholder names a task arg by its dotted path; ``%%(`` writes a literal
``%(``. Every placeholder is a field the task must have. For a shell
(``--cmd``, ``--script-path``) each value is quoted for the place it lands in:
bare, inside '...' or inside "...", so a value never runs as shell code.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Any

from labtasker.errors import UsageError
from labtasker.filters.field_paths import MISSING, get_path

_PATH = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
NONE, SINGLE, DOUBLE = "", "'", '"'


@dataclass(frozen=True)
class Field:
    """A placeholder: the dotted path of an arg, and the shell quoting around it."""

    path: str
    quoting: str = NONE


@dataclass(frozen=True)
class Template:
    """A text split into literal parts and placeholders."""

    parts: tuple[str | Field, ...]

    @classmethod
    def parse(cls, text: str, *, shell: bool = False) -> Template:
        """Parse ``text``; UsageError names a malformed placeholder and where it is."""
        parts: list[str | Field] = []
        pos, literal = 0, ""
        while True:
            start = text.find("%(", pos)
            if start < 0:
                literal += text[pos:]
                break
            if start > 0 and text[start - 1] == "%":  # "%%(" is a literal "%("
                literal += text[pos : start - 1] + "%("
                pos = start + 2
                continue
            end = text.find(")", start)
            if end < 0:
                raise UsageError(
                    f"placeholder at character {start + 1} is not closed: {_excerpt(text, start)}"
                    " (write %(key) or %(a.b))"
                )
            path = re.sub(r"\s*\.\s*", ".", text[start + 2 : end].strip())
            if not _PATH.match(path):
                raise UsageError(
                    f"invalid placeholder {text[start : end + 1]!r}: write %(key) or %(a.b) "
                    "with letters, digits, '_' and '-'"
                )
            literal += text[pos:start]
            parts += [literal, Field(path)]
            literal, pos = "", end + 1
        parts.append(literal)
        cleaned = tuple(p for p in parts if p != "")
        return cls(_with_quoting(cleaned) if shell else cleaned)

    @property
    def fields(self) -> list[str]:
        """Dotted paths of the placeholders, in order, without repeats."""
        return list(dict.fromkeys(p.path for p in self.parts if isinstance(p, Field)))

    def render(self, args: dict[str, Any], *, shell: bool = False) -> str:
        """The text with each placeholder replaced by its value (quoted for a shell)."""
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = get_path(args, part.path)
            if value is MISSING:
                raise UsageError(f"the task has no arg {part.path!r} for %({part.path})")
            text = value_text(value)
            out.append(quote(text, part.quoting) if shell else text)
        return "".join(out)


def value_text(value: Any) -> str:
    """How a value is written into a command: strings as they are, containers as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def quote(text: str, quoting: str) -> str:
    """``text`` made safe for the shell at a place with the given surrounding quotes."""
    if quoting == SINGLE:  # close the quote, add an escaped quote, reopen
        return text.replace("'", "'\"'\"'")
    if quoting == DOUBLE:
        return re.sub(r'([\\"$`])', r"\\\1", text)
    return shlex.quote(text)


def _with_quoting(parts: tuple[str | Field, ...]) -> tuple[str | Field, ...]:
    """Record, for each placeholder, whether it sits inside '...' or "..." of the shell text."""
    state, escaped = NONE, False
    out: list[str | Field] = []
    for part in parts:
        if isinstance(part, Field):
            out.append(Field(part.path, state))
            escaped = False
            continue
        for char in part:
            if escaped:
                escaped = False
            elif char == "\\" and state != SINGLE:
                escaped = True
            elif state == NONE and char in (SINGLE, DOUBLE):
                state = char
            elif char == state:
                state = NONE
        out.append(part)
    return tuple(out)


def _excerpt(text: str, start: int) -> str:
    snippet = text[start : start + 30].splitlines()[0] if text[start:] else ""
    return repr(snippet + ("..." if len(text) - start > 30 else ""))
