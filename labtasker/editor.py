"""The user's editor (``$VISUAL``, ``$EDITOR``, else ``vi``), for the CLI and the TUI alike."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path
from typing import Any


def editor_command() -> list[str]:
    """The editor to run, as argv (``EDITOR="code --wait"`` works)."""
    return shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")


def run_editor(path: Path, **popen: Any) -> int:
    """Run the editor on ``path`` and wait; its exit status (OSError if it cannot start)."""
    return subprocess.call([*editor_command(), str(path)], **popen)
