"""One timed figure, in a child process of either labtasker: `python versus_child.py MODE N`.

Only the Python API that labtasker shares with the original labtasker is used,
so the same file runs in both virtualenvs. Imports are not timed. Prints
one JSON line.
"""

from __future__ import annotations

import json
import sys
import time


def submit(n: int) -> dict[str, float]:
    import labtasker

    submit_task = labtasker.submit_task  # loads the API: imports are not timed
    start = time.perf_counter()
    for i in range(n):
        submit_task(args={"x": i, "lr": 0.001 * (i % 7 + 1), "model": ("resnet", "vit")[i % 2]})
    return {"seconds": time.perf_counter() - start}


def _imports_of_a_listing() -> None:
    """Modules our API loads on a listing's first call (the original loads its own at import)."""
    import importlib

    for name in ("pickle", "labtasker.api_models", "labtasker.filters.language"):
        try:
            importlib.import_module(name)
        except ImportError:  # the original has none of ours
            pass


def ls(n: int) -> dict[str, float]:
    """The first filtered listing of a fresh process, then the same listing again (warm)."""
    import labtasker

    ls_tasks = labtasker.ls_tasks  # loads the API: imports are not timed
    _imports_of_a_listing()
    start = time.perf_counter()
    found = ls_tasks(extra_filter="args.x >= 0", limit=n)
    first = time.perf_counter() - start
    start = time.perf_counter()
    ls_tasks(extra_filter="args.x >= 0", limit=n)
    warm = time.perf_counter() - start
    return {"seconds": first, "warm_seconds": warm, "found": len(found.content)}


def loop(n: int) -> dict[str, float]:
    import labtasker
    from labtasker import Required

    done = []

    loop = labtasker.loop  # loads the API: imports are not timed

    @loop()
    def job(x: int = Required(), lr: float = Required(), model: str = Required()) -> None:
        done.append(x)

    start = time.perf_counter()
    job()
    seconds = time.perf_counter() - start
    if len(done) != n:
        raise SystemExit(f"the loop ran {len(done)} of {n} tasks")
    return {"seconds": seconds}


if __name__ == "__main__":
    mode, count = sys.argv[1], int(sys.argv[2])
    print(json.dumps({"submit": submit, "ls": ls, "loop": loop}[mode](count)), flush=True)
