"""The terminal rule shared by the CLI and the loop's reports: is it one, and colour on it.

Colour only on a terminal, never with ``NO_COLOR`` set (any value) or ``TERM=dumb``.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

STYLES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "blue": "34",
          "magenta": "35", "cyan": "36"}  # fmt: skip


def is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def use_color(stream: TextIO | None = None) -> bool:
    """Colour for a terminal, unless ``NO_COLOR`` is set (any value) or TERM is dumb."""
    if "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb":
        return False
    return is_tty(stream or sys.stdout)


def paint(text: str, style: str | None, stream: TextIO | None = None) -> str:
    """``text`` in a colour when colour is on, else unchanged."""
    if not style or not use_color(stream):
        return text
    return f"\x1b[{STYLES[style]}m{text}\x1b[0m"
