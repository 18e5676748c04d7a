"""A fault switch for the crash tests: die or fail at one step of take, change, put.

Only the test suite sets ``LABTASKER_FAULT``; unset (always, in use) every
``at`` is one dictionary lookup that finds nothing. The value is
``<step>:<action>[:<dir>][:<nth>]``:

- ``step``: ``take`` (before the rename into ``tmp/``), ``held`` (just
  after it), ``change`` (the new document computed, nothing written),
  ``write`` (the new file's bytes written to a temp file, not yet renamed
  into place), ``put`` (the new file in place, the held copy not yet
  removed), ``drop`` (the held copy removed);
- ``action``: ``kill`` (SIGKILL this process), ``stop`` (SIGSTOP it, so a
  test can look at the queue mid-step, then kill it), or an errno name such as
  ``ENOSPC``, ``EIO``, ``EROFS``, ``EACCES`` (raise that OSError), or
  ``error`` (raise a ValueError, like a document that cannot be serialised);
- ``dir``: only for files taken from this directory (``*`` or empty: any);
- ``nth``: only the nth time the step is reached in this process (default 1;
  ``0``: every time).
"""

from __future__ import annotations

import errno
import os

_SPEC = os.environ.get("LABTASKER_FAULT", "")
_seen: dict[str, int] = {}


def _parse(spec: str) -> tuple[str, str, str, int] | None:
    if not spec:
        return None
    parts = [*spec.split(":"), "", "", ""]
    step, action, where, nth = parts[0], parts[1], parts[2], parts[3]
    return step, action, where if where not in ("", "*") else "", int(nth) if nth else 1


_FAULT = _parse(_SPEC)


def at(step: str, dirname: str = "") -> None:
    """Act out the configured fault if this is its step (a no-op unless a test set one)."""
    if _FAULT is None or _FAULT[0] != step or (_FAULT[2] and _FAULT[2] != dirname):
        return
    count = _seen[step] = _seen.get(step, 0) + 1
    if _FAULT[3] and count != _FAULT[3]:
        return
    action = _FAULT[1]
    import signal  # here: only a test's fault needs it

    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if action == "stop":
        os.kill(os.getpid(), signal.SIGSTOP)
        return
    if action == "error":
        raise ValueError(f"injected fault at {step}")
    code = getattr(errno, action, errno.EIO)
    raise OSError(code, f"{os.strerror(code)} (injected at {step})")
