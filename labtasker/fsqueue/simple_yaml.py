"""The simplest documents, written and read without PyYAML (which takes a command 10 ms to import).

``write`` produces exactly the bytes ``codec``'s PyYAML dumper produces, but
only for documents made of: keys and strings that are plain words
(``resnet``, ``grid_search``, ``v1.2``, ``vm/78cf9eff``), UUIDs or hex strings; ints, floats,
booleans, null; timestamps as our writer emits them; nested mappings; and
lists of such scalars. For anything else it returns ``None`` and the caller
goes PyYAML's way. A typical ``task submit`` (args like ``--lr=0.01
--model=vit``) and ``queue.yaml`` fit.

``read`` is its inverse: it accepts a text only if ``write`` of what it read
gives the very same text back, so it reads nothing but what ``write`` (and so
PyYAML) writes, and gives what PyYAML would read. Property tests hold both
to PyYAML (tests/unit/test_simple_yaml.py).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_./\-]{0,99}")  # a lease's host key is ``vm/78cf9eff``
_HEX_ID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]*[a-f][0-9a-f]*"
)  # a UUID, or hex digits with a letter among them (a number or 0b... never matches both)
_BINARY = re.compile(r"0b[01]*")  # YAML 1.1's binary int: hex digits with a letter, b, but a number
_RESERVED = frozenset({"yes", "no", "true", "false", "on", "off", "null", "y", "n"})  # any case
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?[0-9]+\.[0-9]*(?:e[-+][0-9]+)?|-?\.inf|\.nan")
_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{6})?[+-][0-9]{2}:[0-9]{2}"
)
_WIDTH = 80  # PyYAML's line width: beyond it a timestamp's space could become a line break
MAX_DEPTH = 32
# Strings already found to be written bare: keys and common values (a few dozen in a queue)
# are looked up instead of matched, the first few thousand of a process only.
_PLAIN: dict[str, None] = {}
_FLOATS: dict[float, str] = {}  # a lease's terms, learning rates...
_PLAIN_MAX = 4096


class _Declined(Exception):
    """Not a document of the simple kind."""


def write(doc: Any) -> str | None:
    """The YAML text of ``doc`` as PyYAML writes it, or None if ``doc`` is not of the simple kind."""
    if type(doc) is not dict or not doc:
        return None
    out: list[str] = []
    try:
        _mapping(doc, 0, out)
    except _Declined:
        return None
    return "".join(out)


def _mapping(doc: dict[Any, Any], indent: int, out: list[str]) -> None:
    if indent > 2 * MAX_DEPTH:
        raise _Declined
    pad = " " * indent
    plain = _PLAIN
    for key, value in doc.items():
        if type(key) is not str:
            raise _Declined
        name = key if key in plain else _string(key)
        kind = type(value)
        if kind is str:
            out.append(f"{pad}{name}: {value if value in plain else _string(value)}\n")
        elif kind is dict:
            if not value:
                out.append(f"{pad}{name}: {{}}\n")
            else:
                out.append(f"{pad}{name}:\n")
                _mapping(value, indent + 2, out)
        elif kind is list:
            if not value:
                out.append(f"{pad}{name}: []\n")
            else:
                out.append(f"{pad}{name}:\n")
                out.extend(f"{pad}- {_scalar(item, indent + 2)}\n" for item in value)
        else:
            out.append(f"{pad}{name}: {_scalar(value, indent + len(name) + 2)}\n")


def _scalar(value: Any, column: int) -> str:
    kind = type(value)
    if kind is str:
        return value if value in _PLAIN else _string(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return _float(value)
    if kind is datetime:
        text: str = value.isoformat(" ")
        if _TIME.fullmatch(text) is None or column + len(text) > _WIDTH:
            raise _Declined
        return text
    raise _Declined


def _string(text: str) -> str:
    if _WORD.fullmatch(text) is not None:
        if text.lower() in _RESERVED:
            raise _Declined
    elif _HEX_ID.fullmatch(text) is None or _BINARY.fullmatch(text) is not None or len(text) > 100:
        raise _Declined
    if len(_PLAIN) < _PLAIN_MAX:
        _PLAIN[text] = None
    return text


def _float(value: float) -> str:
    """PyYAML's representation of a float."""
    known = _FLOATS.get(value) if value else None  # -0.0 == 0.0: zeros are not remembered
    if known is not None:
        return known
    if value != value:
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value).lower()
    if "." not in text and "e" in text:
        text = text.replace("e", ".0e", 1)
    if _FLOAT.fullmatch(text) is None:
        raise _Declined
    if value and len(_FLOATS) < _PLAIN_MAX:
        _FLOATS[value] = text
    return text


def read(data: bytes) -> dict[str, Any] | None:
    """The document ``write`` made of ``data``, or None if ``data`` is not exactly such a text."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return None
    if not text.endswith("\n"):
        return None
    lines = text.split("\n")
    lines.pop()
    try:
        doc, used = _read_mapping(lines, 0, 0)
    except (_Declined, ValueError, IndexError):
        return None
    if used != len(lines) or write(doc) != text:
        return None
    return doc


def _read_mapping(lines: list[str], start: int, indent: int) -> tuple[dict[str, Any], int]:
    doc: dict[str, Any] = {}
    pad = " " * indent
    i = start
    while i < len(lines):
        line = lines[i]
        if not line.startswith(pad) or line[indent : indent + 1] == " ":
            break  # the end of this mapping (or a deeper line where none belongs: write decides)
        body = line[indent:]
        if body.startswith("- "):
            break
        key, sep, rest = body.partition(":")
        if not sep:
            raise _Declined
        if rest == "":
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            if nxt.startswith(pad + "- "):
                items, i = _read_items(lines, i + 1, pad)
                doc[key] = items
            else:
                doc[key], i = _read_mapping(lines, i + 1, indent + 2)
                if not doc[key]:
                    raise _Declined
            continue
        doc[key] = _read_scalar(rest[1:]) if rest.startswith(" ") else _fail()
        i += 1
    return doc, i


def _read_items(lines: list[str], start: int, pad: str) -> tuple[list[Any], int]:
    items = []
    i = start
    while i < len(lines) and lines[i].startswith(pad + "- "):
        items.append(_read_scalar(lines[i][len(pad) + 2 :]))
        i += 1
    return items, i


def _read_scalar(text: str) -> Any:
    if text == "{}":
        return {}
    if text == "[]":
        return []
    if text == "null":
        return None
    if text in ("true", "false"):
        return text == "true"
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return {".inf": float("inf"), "-.inf": float("-inf"), ".nan": float("nan")}.get(text) or float(text)
    if _TIME.fullmatch(text):
        return datetime.fromisoformat(text)
    return text


def _fail() -> Any:
    raise _Declined
