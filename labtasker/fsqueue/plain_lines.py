"""The lines of our own YAML, each read alone into a row, and the scalars folded over several lines.

A row is ``(indent, key, value, head)``: the key is ``ITEM`` for a ``- item`` line and ``BAD`` for
a line not understood alone (it may go on a scalar of a line above); the value is a scalar or a
``Mark``. The head is what the row's meaning hangs on: for a scalar, the line up to its value (so
``  seed: 7`` and ``  seed: 8`` share ``"  seed: "``); otherwise the line itself, or (for a quoted
scalar going on over the next lines) the line up to the quote, ended by ``"\\n"`` and the quote, and
(for a line not understood) its indentation and ``"\\n"``: no line holds a ``"\\n"``, so no two
kinds of rows share a head. Two lines with the same head read alike but for their scalar.
"""

from __future__ import annotations

from typing import Any

from labtasker.fsqueue.plain_scalars import (
    ENTRY,
    NOT_COMMON,
    OPEN,
    SPECIAL_START,
    Mark,
    Short,
    Unsure,
    common,
    quoted,
    scalar,
    value_text,
)

ITEM = object()  # the "key" of a sequence item line
BAD = object()  # the "key" of a line not understood alone (it may go on a scalar of a line above)
Row = tuple[int, Any, Any, Any]  # (indent, key or ITEM or BAD, value or a Mark, head)
_GO_ON_START = frozenset("'\"&*!|>%@`#{[]},?-:")  # a line that continues a plain scalar never starts so
CACHE_MAX = 1 << 16
_keys: dict[str, Any] = {}
_heads: dict[str, tuple[int, Any, str]] = {}  # "  key" (the line up to its ": ") -> (indent, key, "  key: ")
_items: dict[str, tuple[int, Any, str]] = {}  # "  " (the line up to its "- ") -> (indent, ITEM, "  - ")
_values: dict[str, Any] = {}  # the text of a scalar value -> its value
_VALUE_MAX = 100  # longer values are not kept (nor lines over 80 characters)
_MISSING = object()
_once: dict[str, None] = {}  # lines seen once, not yet remembered


# The lines seen that may well repeat, as two dicts that ``map`` reads at C speed: line -> value and
# line -> head. A full pair is replaced, never cleared: a parse keeps the pair it started with, and a
# line is put in the heads only once it is in the values, so whatever holds a line's head has its value.
remembered: tuple[dict[str, Any], dict[str, Any]] = ({}, {})


def remember(line: str, value: Any, head: Any) -> None:
    global remembered
    values, heads = remembered
    if len(heads) >= CACHE_MAX:
        values, heads = remembered = {}, {}
    values[line] = value
    heads[line] = head


class _Rows(dict[str, Row]):
    """Line -> row, for the careful reading (and the making of a plan): a cache that reads the lines
    it misses."""

    def __missing__(self, line: str) -> Row:
        return row(line)


ROWS = _Rows()


def read_unseen(unseen: tuple[tuple[int, Any, int], ...], lines: list[str], values: list[Any]) -> None:
    """Put in ``values`` the value of each line not remembered, (index, head, cut), if its head is
    the one given (a scalar's head if ``cut``, its length, is not -1); ``Unsure`` if it is another."""
    once = _once
    for i, head, cut in unseen:
        line = lines[i]
        if cut >= 0 and len(line) > cut and line.startswith(head):
            # as in ``row``, the line's head is ``head`` if this reads as a scalar
            value = common(line[cut:])
            if value is NOT_COMMON:
                value = value_text(line, cut)
                if type(value) is Mark:
                    raise Unsure
            if len(line) <= 80:  # kept once seen twice: ids and times never repeat
                if line in once:
                    remember(line, value, head)
                elif len(once) < CACHE_MAX:
                    once[line] = None
                else:
                    once.clear()
        else:
            hit = ROWS[line]
            if hit[3] != head:
                raise Unsure
            value = hit[2]
        values[i] = value


def row(line: str) -> Row:
    """The row of a line not in the cache, which keeps it if it may repeat (``retries: 0``)."""
    head, colon, rest = line.partition(": ")
    if colon:
        seen = _heads.get(head)
    else:
        head, dash, rest = line.partition("- ")
        seen = _items.get(head) if dash else None
    if seen is not None and rest:  # a key (or an item's indentation) seen before: read the value only
        value = _values.get(rest, _MISSING)
        if value is not _MISSING:  # a value seen before: the line may well repeat too
            hit = (seen[0], seen[1], value, seen[2])
            if len(line) <= 80:
                _keep(ROWS, line, hit)
                remember(line, value, seen[2])
            return hit
        value = common(rest)
        if value is NOT_COMMON:
            try:
                value = value_text(line, len(head) + 2)
            except (Unsure, ValueError, TypeError, OverflowError):
                value = NOT_COMMON  # not a value alone ("- a: 1" opens a mapping): read the line
        if value is not NOT_COMMON and type(value) is not Mark:  # an id, a time: its value is kept
            if len(rest) <= _VALUE_MAX:
                _keep(_values, rest, value)
            return (seen[0], seen[1], value, seen[2])
    try:
        hit = read_line(line)
    except (Unsure, ValueError, TypeError, OverflowError):
        indent = len(line) - len(line.lstrip(" "))
        hit = (indent, BAD, None, line[:indent] + "\n")
    if len(line) <= 80:
        _keep(ROWS, line, hit)
        remember(line, hit[2], hit[3])
    return hit


def _keep(cache: dict[str, Any], text: str, value: Any) -> None:
    if len(cache) >= CACHE_MAX:
        cache.clear()  # bounded; what repeats is back after a few files
    cache[text] = value


def _head(line: str, at: int, value: Any) -> str:
    if type(value) is not Mark:
        return line[:at]
    if value.at >= 0:
        return line[:at] + "\n" + line[at]  # a quoted scalar going on: its key and its quote
    return line + "\n"  # a block follows, or an empty collection


def read_line(line: str) -> Row:
    """A line's row, read with no help from the caches."""
    indent, key, at = split(line)
    if key is ITEM:
        text = line[at:]
        if text == "":
            return indent, ITEM, OPEN, line + "\n"
        if text == "-" or text.startswith("- ") or _is_entry(text):
            return indent, ITEM, ENTRY, line + "\n"  # "- a: 1" opens a mapping, "- - 1" a sequence
        value = value_text(line, at)
        if type(value) is Mark:
            return indent, ITEM, value, _head(line, at, value)
        head = line[:at]
        _keep(_items, line[:indent], (indent, ITEM, head))
        return indent, ITEM, value, head
    if at == len(line):
        return indent, key, OPEN, line + "\n"
    value = value_text(line, at)
    if line[at - 2 : at] == ": " and line.find(": ") == at - 2:  # remember "  key: " for other values
        head = line[:at]
        _keep(_heads, line[: at - 2], (indent, key, head))
        if type(value) is not Mark:
            return indent, key, value, head
    return indent, key, value, _head(line, at, value)


def split(line: str) -> tuple[int, Any, int]:
    """A line's indentation, its key (or ``ITEM``) and where its value's text starts."""
    body = line.lstrip(" ")
    indent = len(line) - len(body)
    if not body:
        raise Unsure  # a blank line: part of a folded scalar
    if body == "-" or body.startswith("- "):
        return indent, ITEM, min(indent + 2, len(line))
    key: Any
    if body[0] in "'\"":
        key, rest = _quoted_key(body)
    else:
        if body[0] in SPECIAL_START:
            raise Unsure  # a complex key, a flow mapping, a comment...
        colon = body.find(": ")
        if colon < 0:
            if not body.endswith(":"):
                raise Unsure  # a line that goes on a scalar above
            key_text, rest = body[:-1], len(body)
        else:
            key_text, rest = body[:colon], colon + 2
        key = _keys.get(key_text)
        if key is None:
            key = scalar(key_text)
            if type(key) not in (str, int, float, bool) and key is not None:
                raise Unsure  # a timestamp key: leave it to libyaml
            _keep(_keys, key_text, key)
    if key == "<<":
        raise Unsure  # a merge key
    return indent, key, indent + rest


def _quoted_key(body: str) -> tuple[str, int]:
    """``'key': rest`` or ``"key": rest`` on one line: the key and where the rest starts."""
    try:
        key, end = quoted(body)
    except Short:
        raise Unsure from None  # a key over several lines: not a simple key
    after = body[end:]
    if after == ":":
        return key, end + 1
    if after.startswith(": "):
        return key, end + 2
    raise Unsure


def _is_entry(text: str) -> bool:
    """``- key: value`` or ``- key:`` (a mapping in a sequence), as opposed to ``- scalar``."""
    if text[0] not in "'\"":
        return ": " in text or text.endswith(":")
    try:
        end = quoted(text)[1]  # a quoted key, or a quoted scalar
    except (Short, Unsure):
        return False
    return text[end:] == ":" or text[end : end + 2] == ": "


def quoted_on(lines: list[str], i: int, at: int, indent: int) -> tuple[str, int]:
    """A quoted scalar starting at column ``at`` of ``lines[i]`` and going on over the next lines,
    each blank or indented past ``indent``; the value and the index of the line after it."""
    quote = lines[i][at]
    text = lines[i][at:]
    j = i + 1
    while j < len(lines):
        line = lines[j]
        if line and (len(line) - len(line.lstrip(" ")) <= indent):
            raise Unsure
        text += "\n" + line
        j += 1
        if quote in line:
            try:
                value, end = quoted(text)
            except Short:
                continue
            if end != len(text):
                raise Unsure  # something after the closing quote
            return value, j
    raise Unsure


def plain_on(lines: list[str], i: int, indent: int, item: bool) -> tuple[Any, tuple[Any, int]]:
    """A plain scalar on ``lines[i]`` (a ``key: value`` or ``- value`` line at ``indent``) folded over
    the more indented lines after it; its key, and the value and the index of the line after it."""
    at, key, start = split(lines[i])
    if at != indent or (key is ITEM) != item:
        raise Unsure
    parts = [lines[i][start:]]
    j = i + 1
    while j < len(lines):
        line = lines[j]
        body = line.lstrip(" ")
        if len(line) - len(body) <= indent:
            break
        if (
            body[0] in _GO_ON_START
            or body.endswith((" ", ":"))
            or ": " in body
            or " #" in body
            or body in ("-", "?")
        ):
            raise Unsure  # not what our writer folds: leave it to libyaml
        parts.append(body)
        j += 1
    if parts[0][:1] in _GO_ON_START or parts[0].endswith(" "):
        raise Unsure  # a quoted or flow value, or a key, before more indented lines
    return key, (scalar(" ".join(parts)), j)
