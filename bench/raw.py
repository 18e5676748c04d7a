"""The physical limit: what the filesystem itself does, with no labtasker code in the way.

Every figure of the benchmark is compared with one of these, measured in the
same run on the same filesystem, so the ratios hold on any machine.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

PAYLOAD = b"x" * 600  # about the size of a task file


def rename_rate(base: Path, n: int) -> float:
    """Renames per second of existing files from one directory to another."""
    work = Path(tempfile.mkdtemp(prefix="raw-rename-", dir=base))
    try:
        src, dst = work / "a", work / "b"
        src.mkdir()
        dst.mkdir()
        names = [f"{i:09d}.yaml" for i in range(n)]
        for name in names:
            (src / name).write_bytes(PAYLOAD)
        start = time.perf_counter()
        for name in names:
            os.rename(src / name, dst / name)
        return n / (time.perf_counter() - start)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def durable_write_rate(base: Path, n: int, *, dir_sync_each: bool = True) -> float:
    """Files per second written whole: create, write, fsync, rename (+ fsync of the directory).

    ``dir_sync_each=False`` syncs the directory once at the end: a batch.
    """
    work = Path(tempfile.mkdtemp(prefix="raw-durable-", dir=base))
    try:
        tmp, dest = work / "tmp", work / "pending"
        tmp.mkdir()
        dest.mkdir()
        start = time.perf_counter()
        for i in range(n):
            staged = tmp / f"w.{i}.tmp"
            fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, PAYLOAD)
            os.fsync(fd)
            os.close(fd)
            os.rename(staged, dest / f"{i:09d}.yaml")
            if dir_sync_each:
                _fsync_dir(dest)
        if not dir_sync_each:
            _fsync_dir(dest)
        return n / (time.perf_counter() - start)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Limits:
    """Raw rates, probed again next to each figure: a VM's fsync rate drifts within a run."""

    def __init__(self, base: Path, probe_size: int) -> None:
        self.base = base
        self.probe_size = probe_size
        self.durable_probes: list[float] = []
        self.batch_probes: list[float] = []

    def durable(self) -> float:
        """A fresh raw durable-write rate (one file fsync and one directory fsync per file)."""
        rate = durable_write_rate(self.base, self.probe_size)
        self.durable_probes.append(rate)
        return rate

    def batch(self) -> float:
        """A fresh raw batched durable-write rate (one directory fsync per batch)."""
        rate = durable_write_rate(self.base, self.probe_size, dir_sync_each=False)
        self.batch_probes.append(rate)
        return rate

    def around(self, probe: Callable[[], float], measure: Callable[[], T]) -> tuple[float, T]:
        """Run ``measure`` between two probes; (their geometric mean, what it returned)."""
        before = probe()
        result = measure()
        return math.sqrt(before * probe()), result
