"""How a refused filter expression is reported: the problem, the text, a caret; pure."""

from __future__ import annotations

import ast
import re

from labtasker.errors import FilterError


class Refused(Exception):
    """Internal to the compiler: why a node was refused, and where (character span)."""

    def __init__(self, problem: str, span: tuple[int, int]) -> None:
        super().__init__(problem)
        self.problem, self.span = problem, span


def error(problem: str, text: str, start: int, end: int) -> FilterError:
    """A FilterError of three short lines: the problem, the expression, a caret."""
    start = max(0, min(start, len(text)))
    end = max(start + 1, min(end, len(text) + 1))
    shown, offset = text, 0
    if len(text) > 100:  # show a window around the problem, not the whole text
        offset = max(0, start - 40)
        shown = (
            ("..." if offset else "")
            + text[offset : offset + 80]
            + ("..." if offset + 80 < len(text) else "")
        )
        offset -= 3 if offset else 0
    caret = " " * (start - offset) + "^" * min(end - start, 80)
    err = FilterError(f"invalid filter: {problem}\n  {shown}\n  {caret}")
    err.problem, err.expression, err.position = problem, text, start  # type: ignore[attr-defined]
    return err


def span(text: str, node: ast.AST) -> tuple[int, int]:
    """Character span of a node (ast counts UTF-8 bytes)."""
    raw = text.encode()
    start = len(raw[: getattr(node, "col_offset", 0)].decode(errors="ignore"))
    end = len(raw[: getattr(node, "end_col_offset", None) or len(raw)].decode(errors="ignore"))
    return start, end


_STRING = re.compile(r"""'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*\"""")
_SYNTAX_HINTS = (
    (re.compile(r"(?<![=!<>:])=(?!=)"), "use '==' to compare, not '='"),
    (re.compile(r"&&|&"), "use 'and' instead of '&&' or '&'"),
    (re.compile(r"\|\||\|"), "use 'or' instead of '||' or '|'"),
    (re.compile(r"!(?!=)"), "use 'not' instead of '!'"),
)


def syntax_refusal(text: str, exc: SyntaxError) -> Refused:
    """Turn a SyntaxError into a short problem, spotting habits from other languages."""
    blanked = _STRING.sub(lambda m: " " * len(m.group()), text)  # ignore what is inside quotes
    for pattern, problem in _SYNTAX_HINTS:
        found = pattern.search(blanked)
        if found:
            return Refused(problem, (found.start(), found.end()))
    message = (exc.msg or "invalid syntax").split(". ")[0].replace(" (detected at line 1)", "")
    if message.startswith("Exceeds the limit"):  # an integer literal of thousands of digits
        message = "number too large"
    start = (exc.offset or len(text) + 1) - 1
    if exc.offset in (None, 0) or ("never closed" in message and start >= len(text)):
        start = len(text)
    return Refused(message, (start, start + 1))
