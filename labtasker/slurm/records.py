"""What ``labtasker slurm submit`` leaves under ``.labtasker/slurm/``: one folder per submission.

``<stamp>/job.sbatch`` is the script as submitted, ``<stamp>/submit.json`` what was
asked (job id, workers, command, when), and Slurm writes each array element's
own output beside them (``slurm-<job>_<index>.out``).
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

SCRIPT = "job.sbatch"
RECORD = "submit.json"


def new_folder(base: Path, now: datetime) -> Path:
    """A fresh folder named for the time of submission (a suffix when two share a second)."""
    stamp = now.strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        path = base / (stamp if n == 0 else f"{stamp}-{n}")
        try:
            path.mkdir(parents=True)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"too many submissions in one second under {base}")


def write(folder: Path, name: str, text: str) -> Path:
    """Write a file whole (a reader on another node never sees half of it)."""
    path = folder / name
    tmp = folder / f".{name}.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def save(folder: Path, record: dict[str, Any]) -> None:
    write(folder, RECORD, json.dumps(record, indent=2, default=str) + "\n")


def load_all(base: Path) -> list[dict[str, Any]]:
    """Every submission with a job id, oldest first (``folder`` added to each)."""
    out = []
    for path in sorted(base.glob(f"*/{RECORD}")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("job_id"):
            record["folder"] = str(path.parent)
            out.append(record)
    return out
