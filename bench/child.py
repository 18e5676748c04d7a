"""What the benchmark runs in a child process: `python -m bench.child MODE [ARG]`.

Modes print one JSON line. ``loop`` says "ready" after its imports and waits
for a line on stdin, so several workers start together and start-up is not
timed.
"""

from __future__ import annotations

import json
import resource
import sys
import time

_STARTED = time.perf_counter()


def rss_kb() -> int | None:
    """Resident set size now (Linux), in KiB."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * (resource.getpagesize() // 1024)


def peak_kb() -> int:
    """The most this process has held resident, in KiB.

    ``VmHWM`` where there is one: ``ru_maxrss`` of a child on Linux also counts
    what its parent held when it forked, which would blame us for the benchmark.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def loop() -> dict[str, object]:
    """Run a no-op ``@labtasker.loop()`` over every pending task."""
    import labtasker

    @labtasker.loop()
    def job(
        x: int = labtasker.Required(), lr: float = labtasker.Required(), model: str = labtasker.Required()
    ) -> None:
        pass

    ready = rss_kb()
    print("ready", flush=True)
    sys.stdin.readline()
    start = time.perf_counter()
    tally = job()
    end = time.perf_counter()
    return {"tasks": tally.total, "start": start, "end": end, "rss_ready_kb": ready, "maxrss_kb": peak_kb()}


def ls(extra_filter: str | None) -> dict[str, object]:
    """One ``ls_tasks`` call in a fresh process, the way the CLI makes it."""
    import labtasker

    imported = time.perf_counter()
    found = labtasker.ls_tasks(extra_filter=extra_filter or None, limit=100)
    done = time.perf_counter()
    return {
        "found": len(found.content),
        "import_s": imported - _STARTED,
        "call_s": done - imported,
        "maxrss_kb": peak_kb(),
    }


def main(argv: list[str]) -> int:
    mode = argv[0]
    if mode == "loop":
        out = loop()
    elif mode == "ls":
        out = ls(argv[1] if len(argv) > 1 else None)
    else:
        print(f"unknown mode {mode!r}: use loop or ls", file=sys.stderr)
        return 2
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
