"""``config.toml`` in its plain form, read without ``tomllib`` (about 4 ms of every command's start).

The files ``labtasker init`` and ``labtasker config`` write, and most written by
hand, use a small part of TOML: comments, ``[table]`` headers and ``key =
value`` lines whose values are basic strings without escapes, decimal
integers and floats, or booleans. ``loads`` reads that part and returns
``None`` for anything else (or anything it is not sure of), and the caller
hands the text to ``tomllib``, which also reports the errors. A property test
holds the two to the same result (tests/unit/test_config_toml.py).
"""

from __future__ import annotations

import re
from typing import Any

_KEY = r"[A-Za-z0-9_-]+"
_COMMENT = r"(?:#[^\x00-\x08\x0a-\x1f\x7f]*)?"
_TABLE = re.compile(rf"\[({_KEY})\][ \t]*{_COMMENT}")
_PAIR = re.compile(
    rf"({_KEY})[ \t]*=[ \t]*"
    r"(?:\"([^\"\\\x00-\x08\x0a-\x1f\x7f]*)\"|([+-]?(?:0|[1-9][0-9]*))|([+-]?(?:0|[1-9][0-9]*)\.[0-9]+)|(true|false))"
    rf"[ \t]*{_COMMENT}"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # never valid in a TOML file (\t and \n are)


def loads(text: str) -> dict[str, Any] | None:
    """What ``tomllib.loads(text)`` gives, or None when ``text`` is not of the plain kind."""
    if _CONTROL.search(text) is not None:
        return None
    root: dict[str, Any] = {}
    table = root
    for raw in text.split("\n"):
        line = raw.strip(" \t")
        if not line or line.startswith("#"):
            if line and _CONTROL.search(line) is not None:
                return None
            continue
        if line.startswith("["):
            header = _TABLE.fullmatch(line)
            if header is None or header.group(1) in root:
                return None
            table = root[header.group(1)] = {}
            continue
        pair = _PAIR.fullmatch(line)
        if pair is None or pair.group(1) in table:
            return None
        key, string, integer, number, boolean = pair.groups()
        if string is not None:
            table[key] = string
        elif integer is not None:
            table[key] = int(integer)
        elif number is not None:
            table[key] = float(number)
        else:
            table[key] = boolean == "true"
    return root
