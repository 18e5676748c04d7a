"""A fast reader for the YAML our own writer emits; anything else is left to libyaml.

Task files are block-style mappings written by ``codec.dump``: ``key: value``
lines, nested mappings indented by two, sequences as ``- item`` lines, ``{}``
and ``[]`` for empty ones, and scalars: plain, single-quoted, or
double-quoted with escapes, any of them folded over several lines when long
or holding line breaks (a traceback, a multi-line note). Reading those line
by line, with each distinct line remembered (most lines of a queue repeat:
``retries: 0``, ``  model: vit``), is several times faster than composing
YAML nodes.

``parse`` returns ``None`` for whatever it is not sure of (anchors, tags,
comments, block scalars, flow collections, complex keys, odd indentation,
unusual line breaks), and the caller parses those bytes with libyaml. Plain
scalars resolve by PyYAML's own implicit resolvers and constructors, and
quoted ones fold and unescape by the scanner's rules, so a value read here is
the value the safe loader gives (a property test keeps the two equal).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

_TAG = "tag:yaml.org,2002:"
_IMPLICIT = Resolver.yaml_implicit_resolvers
_WILDCARD = _IMPLICIT.get(None, [])
_BUILD = {
    _TAG + "int": SafeConstructor.construct_yaml_int,
    _TAG + "float": SafeConstructor.construct_yaml_float,
    _TAG + "bool": SafeConstructor.construct_yaml_bool,
    _TAG + "timestamp": SafeConstructor.construct_yaml_timestamp,
}
_CONSTRUCTOR = SafeConstructor()
# A decimal int without a leading zero (YAML 1.1 reads 012 as octal), and the time our writer emits
# (``isoformat(" ")`` of an aware datetime): both resolve as the safe loader would resolve them.
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_OUR_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{6})?[+-][0-9]{2}:[0-9]{2}"
)
_SPECIAL_START = frozenset("'\"&*!|>%@`#{[]},")  # a plain scalar never starts with these ("?x" may)
_GO_ON_START = frozenset("'\"&*!|>%@`#{[]},?-:")  # nor a line that continues one, to be sure
# Line breaks of YAML that are not "\n", a byte order mark: our writer escapes them in double
# quotes but may write them raw in single quotes, where they fold; libyaml reads those files.
_ODD = ("\t", "\r", "\x85", "\u2028", "\u2029", "\ufeff")
MAX_DEPTH = 32  # deeper documents go libyaml's way (and meet its limits); see codec.MAX_DEPTH
_CACHE_MAX = 1 << 16
_SINGLE_RUN = re.compile(r"[^' \n]*")
_DOUBLE_RUN = re.compile(r'[^"\\ \n]*')
_HEX = re.compile(r"[0-9A-Fa-f]+")
_ESCAPES = {
    "0": "\0", "a": "\x07", "b": "\x08", "t": "\t", "n": "\n", "v": "\x0b", "f": "\x0c", "r": "\r",
    "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0", "L": "\u2028",
    "P": "\u2029",
}  # fmt: skip
_CODES = {"x": 2, "u": 4, "U": 8}


class _Mark:
    """A value a row cannot hold by itself: a block follows, an empty collection, a folded scalar."""

    __slots__ = ("at",)

    def __init__(self, at: int = -1) -> None:
        self.at = at  # for a quoted scalar that goes on past its line: where in the line it starts


_OPEN, _EMPTY_MAP, _EMPTY_SEQ, _ENTRY = _Mark(), _Mark(), _Mark(), _Mark()
_ITEM = object()  # the "key" of a sequence item line
_BAD = object()  # the "key" of a line not understood alone (it may go on a scalar of a line above)
Row = tuple[int, Any, Any]  # (indent, key or _ITEM or _BAD, value or a _Mark)
_lines: dict[str, Row] = {}
_keys: dict[str, Any] = {}
_heads: dict[str, tuple[int, Any]] = {}  # "  key" (the line up to its ": ") -> (indent, key)


class _Unsure(Exception):
    """Something this reader does not handle: libyaml reads the file."""


class _Short(Exception):
    """A quoted scalar goes on past the text at hand."""


def parse(data: bytes) -> dict[str, Any] | None:
    """The document of a file our writer made, or None to say "ask libyaml"."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.endswith("\n") or any(odd in text for odd in _ODD):
        return None
    lines = text.split("\n")
    lines.pop()
    known = _lines.get
    rows = [known(line) or _row(line) for line in lines]
    try:
        doc, end = _block(rows, lines, 0, 0, 0)
    except (_Unsure, _Short, ValueError, TypeError, OverflowError):
        return None
    if end != len(rows) or not isinstance(doc, dict):
        return None
    return doc


def _row(line: str) -> Row:
    hit = _lines.get(line)
    if hit is None:
        head, colon, _ = line.partition(": ")
        known = _heads.get(head) if colon else None
        try:
            if known is not None:  # a key seen before, a value not (an id, a time): read the value only
                hit = (known[0], known[1], _value_text(line, len(head) + 2))
            else:
                hit = _read_line(line)
        except (_Unsure, ValueError, TypeError, OverflowError):
            hit = (len(line) - len(line.lstrip(" ")), _BAD, None)
        if len(line) <= 80:  # ids and times rarely repeat: not worth keeping
            if len(_lines) >= _CACHE_MAX:
                _lines.clear()
            _lines[line] = hit
    return hit


def _read_line(line: str) -> Row:
    indent, key, at = _split(line)
    if key is _ITEM:
        text = line[at:]
        if text == "":
            return indent, _ITEM, _OPEN
        if text == "-" or text.startswith("- ") or _is_entry(text):
            return indent, _ITEM, _ENTRY  # "- a: 1" opens a mapping, "- - 1" a sequence
        return indent, _ITEM, _value_text(line, at)
    if at == len(line):
        return indent, key, _OPEN
    if line[at - 2 : at] == ": " and line.find(": ") == at - 2:  # remember "  key: " for other values
        if len(_heads) >= _CACHE_MAX:
            _heads.clear()
        _heads[line[: at - 2]] = (indent, key)
    return indent, key, _value_text(line, at)


def _split(line: str) -> tuple[int, Any, int]:
    """A line's indentation, its key (or ``_ITEM``) and where its value's text starts."""
    body = line.lstrip(" ")
    indent = len(line) - len(body)
    if not body:
        raise _Unsure  # a blank line: part of a folded scalar
    if body == "-" or body.startswith("- "):
        return indent, _ITEM, min(indent + 2, len(line))
    key: Any
    if body[0] in "'\"":
        key, rest = _quoted_key(body)
    else:
        if body[0] in _SPECIAL_START:
            raise _Unsure  # a complex key, a flow mapping, a comment...
        colon = body.find(": ")
        if colon < 0:
            if not body.endswith(":"):
                raise _Unsure  # a line that goes on a scalar above
            key_text, rest = body[:-1], len(body)
        else:
            key_text, rest = body[:colon], colon + 2
        key = _keys.get(key_text)
        if key is None:
            key = _scalar(key_text)
            if type(key) not in (str, int, float, bool) and key is not None:
                raise _Unsure  # a timestamp key: leave it to libyaml
            if len(_keys) >= _CACHE_MAX:
                _keys.clear()
            _keys[key_text] = key
    if key == "<<":
        raise _Unsure  # a merge key
    return indent, key, indent + rest


def _quoted_key(body: str) -> tuple[str, int]:
    """``'key': rest`` or ``"key": rest`` on one line: the key and where the rest starts."""
    try:
        key, end = _quoted(body)
    except _Short:
        raise _Unsure from None  # a key over several lines: not a simple key
    after = body[end:]
    if after == ":":
        return key, end + 1
    if after.startswith(": "):
        return key, end + 2
    raise _Unsure


def _value_text(line: str, at: int) -> Any:
    rest = line[at:]
    if rest == "{}":
        return _EMPTY_MAP
    if rest == "[]":
        return _EMPTY_SEQ
    if rest[:1] in ("'", '"'):
        try:
            value, end = _quoted(rest)
        except _Short:
            return _Mark(at)  # it goes on over the next lines
        if end != len(rest):
            raise _Unsure  # something after the closing quote
        return value
    return _scalar(rest)


def _scalar(text: str) -> Any:
    """A one-line scalar: plain (resolved as the safe loader does) or quoted without escapes."""
    if _DECIMAL.fullmatch(text):  # the shapes every task file has, read without the resolvers
        return int(text)
    if _OUR_TIME.fullmatch(text):
        return datetime.fromisoformat(text)
    first = text[0] if text else ""
    if first == "'":
        if len(text) < 2 or not text.endswith("'"):
            raise _Unsure
        inner = text[1:-1]
        if "'" in inner.replace("''", ""):
            raise _Unsure
        return inner.replace("''", "'")
    if first == '"':
        if len(text) < 2 or not text.endswith('"') or "\\" in text or '"' in text[1:-1]:
            raise _Unsure
        return text[1:-1]
    if (
        first in _SPECIAL_START
        or " #" in text
        or ": " in text
        or text.endswith(":")
        or text != text.strip(" ")  # YAML's white space; tabs never get this far
        or text[:2] in ("- ", "? ")
        or text in ("-", "?")
    ):
        raise _Unsure  # not plain in YAML: our writer would have quoted it
    tag = _resolve(first, text)
    if tag is None:
        return text
    if tag == _TAG + "null":
        return None
    build = _BUILD.get(tag)
    if build is None:
        raise _Unsure  # merge, value, yaml tags
    return build(_CONSTRUCTOR, ScalarNode(tag, text))


def _resolve(first: str, text: str) -> str | None:
    """The tag the safe loader's implicit resolvers give a plain scalar; None for a string."""
    for tag, pattern in _IMPLICIT.get(first, []) + _WILDCARD:
        if pattern.match(text):
            return str(tag)
    return None


def _quoted(s: str) -> tuple[str, int]:
    """The quoted scalar at the start of ``s`` (lines joined by "\\n"), folded and unescaped as
    YAML's scanner does it, and where it ends; ``_Short`` if ``s`` ends first."""
    double = s[0] == '"'
    run = (_DOUBLE_RUN if double else _SINGLE_RUN).match
    out: list[str] = []
    i, n = 1, len(s)
    while True:
        j = run(s, i).end()  # type: ignore[union-attr]  # the pattern matches the empty string
        if j > i:
            out.append(s[i:j])
            i = j
        if i >= n:
            raise _Short
        ch = s[i]
        if ch == "'":
            if s[i + 1 : i + 2] == "'":
                out.append("'")
                i += 2
                continue
            return "".join(out), i + 1
        if ch == '"':
            return "".join(out), i + 1
        if ch == "\\":
            i = _escape(s, i + 1, out)
            continue
        j = i  # spaces, then maybe a line break
        while j < n and s[j] == " ":
            j += 1
        if j >= n:
            raise _Short
        if s[j] == "\n":
            breaks: list[str] = []
            i = _breaks(s, j + 1, breaks)
            out.extend(breaks or [" "])  # one break folds into a space; n + 1 breaks keep n
        else:
            out.append(s[i:j])
            i = j


def _escape(s: str, i: int, out: list[str]) -> int:
    """The escape after a backslash at ``i - 1`` of a double-quoted scalar; where the text goes on."""
    if i >= len(s):
        raise _Short
    ch = s[i]
    if ch in _ESCAPES:
        out.append(_ESCAPES[ch])
        return i + 1
    if ch in _CODES:
        digits = s[i + 1 : i + 1 + _CODES[ch]]
        if len(digits) != _CODES[ch] or not _HEX.fullmatch(digits):
            raise _Unsure
        code = int(digits, 16)
        if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
            raise _Unsure
        out.append(chr(code))
        return i + 1 + len(digits)
    if ch == "\n":  # an escaped line break: no space, and the next line's indentation dropped
        return _breaks(s, i + 1, out)
    raise _Unsure


def _breaks(s: str, i: int, out: list[str]) -> int:
    """Skip the indentation of the lines after a break, keeping a "\\n" per empty line."""
    n = len(s)
    while True:
        while i < n and s[i] == " ":
            i += 1
        if i < n and s[i] == "\n":
            out.append("\n")
            i += 1
        else:
            return i


def _quoted_on(lines: list[str], i: int, at: int, indent: int) -> tuple[str, int]:
    """A quoted scalar starting at column ``at`` of ``lines[i]`` and going on over the next lines,
    each blank or indented past ``indent``; the value and the index of the line after it."""
    quote = lines[i][at]
    text = lines[i][at:]
    j = i + 1
    while j < len(lines):
        line = lines[j]
        if line and (len(line) - len(line.lstrip(" ")) <= indent):
            raise _Unsure
        text += "\n" + line
        j += 1
        if quote in line:
            try:
                value, end = _quoted(text)
            except _Short:
                continue
            if end != len(text):
                raise _Unsure  # something after the closing quote
            return value, j
    raise _Unsure


def _plain_on(lines: list[str], i: int, indent: int, item: bool) -> tuple[Any, tuple[Any, int]]:
    """A plain scalar on ``lines[i]`` (a ``key: value`` or ``- value`` line at ``indent``) folded over
    the more indented lines after it; the value and the index of the line after it."""
    at, key, start = _split(lines[i])
    if at != indent or (key is _ITEM) != item:
        raise _Unsure
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
            raise _Unsure  # not what our writer folds: leave it to libyaml
        parts.append(body)
        j += 1
    if parts[0][:1] in _GO_ON_START or parts[0].endswith(" "):
        raise _Unsure  # a quoted or flow value, or a key, before more indented lines
    return key, (_scalar(" ".join(parts)), j)


def _block(rows: list[Row], lines: list[str], i: int, indent: int, depth: int) -> tuple[Any, int]:
    """The mapping or sequence whose lines start at ``rows[i]`` with this indentation."""
    if depth > MAX_DEPTH or i >= len(rows) or rows[i][0] != indent:
        raise _Unsure
    if rows[i][1] is _ITEM:
        return _sequence(rows, lines, i, indent, depth)
    return _mapping(rows, lines, i, indent, depth)


def _mapping(
    rows: list[Row], lines: list[str], i: int, indent: int, depth: int
) -> tuple[dict[Any, Any], int]:
    out: dict[Any, Any] = {}
    n = len(rows)
    start = i
    while i < n:  # the hot loop of a cold listing: kept free of calls it can spare
        at, key, value = rows[i]
        if at != indent:
            if at < indent:
                break
            if i == start:
                raise _Unsure
            key, (value, i) = _plain_on(lines, i - 1, indent, item=False)
            out[key] = value  # the previous entry's value, folded over the lines after it
            continue
        if key is _ITEM:
            break
        if key is _BAD or key in out:
            raise _Unsure  # a line not understood, or a duplicate key (libyaml keeps the last)
        i += 1
        if type(value) is _Mark:
            value, i = _special(rows, lines, i, indent, depth, value)
        out[key] = value
    return out, i


def _special(
    rows: list[Row], lines: list[str], i: int, indent: int, depth: int, mark: _Mark
) -> tuple[Any, int]:
    """The value of a row whose value is a ``_Mark``; ``i`` is the row after it."""
    if mark is _OPEN:
        if i < len(rows) and (rows[i][0] > indent or (rows[i][0] == indent and rows[i][1] is _ITEM)):
            return _block(rows, lines, i, rows[i][0], depth + 1)
        return None, i
    if mark is _EMPTY_MAP:
        return {}, i
    if mark is _EMPTY_SEQ:
        return [], i
    if mark is _ENTRY:  # "- a: 1": the mapping (or "- - 1": the sequence) starts two columns in
        line = " " * (indent + 2) + lines[i - 1][indent + 2 :]
        lines[i - 1] = line  # rows and lines are this parse's own: read the item as a line of its own
        try:
            rows[i - 1] = _read_line(line)
        except (_Unsure, ValueError, TypeError, OverflowError):
            raise _Unsure from None
        return _block(rows, lines, i - 1, indent + 2, depth + 1)
    return _quoted_on(lines, i - 1, mark.at, indent)


def _sequence(rows: list[Row], lines: list[str], i: int, indent: int, depth: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    n = len(rows)
    start = i
    while i < n:
        at, kind, value = rows[i]
        if at != indent:
            if at < indent:
                break
            if i == start:
                raise _Unsure
            _, (value, i) = _plain_on(lines, i - 1, indent, item=True)
            out[-1] = value  # the previous item, folded over the lines after it
            continue
        if kind is not _ITEM:
            if kind is _BAD:
                raise _Unsure
            break
        i += 1
        if type(value) is _Mark:
            value, i = _special(rows, lines, i, indent, depth, value)
        out.append(value)
    return out, i


def _is_entry(text: str) -> bool:
    """``- key: value`` or ``- key:`` (a mapping in a sequence), as opposed to ``- scalar``."""
    if text[0] not in "'\"":
        return ": " in text or text.endswith(":")
    try:
        end = _quoted(text)[1]  # a quoted key, or a quoted scalar
    except (_Short, _Unsure):
        return False
    return text[end:] == ":" or text[end : end + 2] == ": "
