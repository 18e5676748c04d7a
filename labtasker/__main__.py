"""``python -m labtasker``: the same as the ``labtasker`` command."""

from __future__ import annotations

from labtasker.cli.main import run

if __name__ == "__main__":
    run()
