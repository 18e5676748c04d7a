"""Editing text in the user's editor (``$VISUAL``, ``$EDITOR``, else ``vi``) until it is valid."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from labtasker.cli import output
from labtasker.editor import editor_command, run_editor
from labtasker.errors import LabtaskerError, UsageError

T = TypeVar("T")


def edit(text: str, suffix: str = ".txt") -> str:
    """Open ``text`` in the editor; return what was saved."""
    fd, name = tempfile.mkstemp(prefix="labtasker-", suffix=suffix)
    path = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        try:
            code = run_editor(path)
        except OSError as exc:
            raise UsageError(
                f"cannot run the editor {editor_command()[0]!r}: {exc.strerror or exc} (set $EDITOR, e.g. EDITOR=nano)"
            ) from None
        if code != 0:
            raise LabtaskerError(f"the editor exited with code {code}; nothing was changed")
        return path.read_text(encoding="utf-8")
    finally:
        path.unlink(missing_ok=True)


def edit_until_valid(text: str, parse: Callable[[str], T], suffix: str = ".txt") -> tuple[str, T]:
    """Edit until ``parse`` accepts the text; on a terminal, offer to edit again after an error."""
    while True:
        edited = edit(text, suffix)
        try:
            return edited, parse(edited)
        except UsageError as exc:
            if not output.can_prompt():
                raise
            output.warn(str(exc))
            if not output.confirm("Edit again?", default=True):
                raise LabtaskerError("nothing was changed") from None
            text = edited
