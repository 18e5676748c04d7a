"""Ids made without coordination: time-ordered with a random tail, so nodes never collide."""

from __future__ import annotations

import os
import re
import time

try:  # hashlib.blake2b itself, without hashlib's OpenSSL binding (3 ms of a command's start-up)
    from _blake2 import blake2b as blake2b
except ImportError:  # pragma: no cover - a Python built without it
    from hashlib import blake2b as blake2b

SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


_last = [0, 0]  # (ms, sequence) of the last id made in this process


def new_task_id() -> str:
    """A UUIDv7 string: sorts by creation time, random bits keep it unique.

    Ids made in one process within one millisecond count up in the 12-bit
    sequence field, so a batch submitted at once keeps its order.
    """
    ms = time.time_ns() // 1_000_000
    if ms <= _last[0]:
        ms, seq = _last[0], _last[1] + 1
        if seq > 0xFFF:  # 4096 ids in one millisecond: borrow the next one
            ms, seq = ms + 1, 0
    else:
        seq = int.from_bytes(os.urandom(2), "big") & 0x3FF  # leave room to count up
    _last[0], _last[1] = ms, seq
    rand = int.from_bytes(os.urandom(8), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= seq << 64
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & ((1 << 62) - 1)
    return _uuid_text(value)


def _uuid_text(value: int) -> str:
    """``str(uuid.UUID(int=value))``, without importing ``uuid`` at start-up."""
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


BATCH_MAX = 1 << 26  # lines a batch may have (the line number takes 26 bits of its id)


def batch_task_ids(digest: bytes, count: int) -> list[str]:
    """Ids for the lines of a batch, the same every time the same batch is submitted.

    A rerun of a bulk submit that was killed half-way finds which lines got in
    by their ids. Shaped like UUIDs (version 8): 84 bits of the batch's digest,
    then the line number, so a batch's ids sort in line order.
    """
    if count > BATCH_MAX:
        raise ValueError(f"a batch holds at most {BATCH_MAX} tasks, not {count}: split it")
    head = int.from_bytes(digest[:11], "big") >> 4  # 84 bits
    out = []
    for line in range(count):
        value = (head >> 36) << 80  # 48 bits
        value |= 0x8 << 76  # version 8: made by the application
        value |= ((head >> 24) & 0xFFF) << 64  # 12 bits
        value |= 0b10 << 62  # RFC 4122 variant
        value |= (head & 0xFFFFFF) << 38 | line << 12  # 24 bits, then the line (26 bits), then zeros
        out.append(_uuid_text(value))
    return out


def nonce(nbytes: int = 4) -> str:
    """A short random hex string for names that must be unique."""
    return os.urandom(nbytes).hex()  # what secrets.token_hex does, without its imports (hmac, OpenSSL)


def hostname() -> str:
    """This machine's name (``socket.gethostname()``; ``uname`` spares importing ``socket``)."""
    try:
        return os.uname().nodename
    except AttributeError:  # pragma: no cover - no uname (Windows)
        import socket

        return socket.gethostname()


def check_id(value: str, what: str) -> str:
    """Refuse ids that would break file names (``--`` separates name parts)."""
    if not isinstance(value, str) or not SAFE_ID.match(value) or "--" in value:
        raise ValueError(
            f"invalid {what} {value!r}: use letters, digits, '.', '_' and '-' "
            "(no '--', at most 100 characters)"
        )
    return value
