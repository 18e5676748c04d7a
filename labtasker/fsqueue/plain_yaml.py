"""A fast reader for the YAML our own writer emits; anything else is left to libyaml.

Task files are block-style mappings written by ``codec.dump``: ``key: value``
lines, nested mappings indented by two, sequences as ``- item`` lines, ``{}``
and ``[]`` for empty ones, and one-line scalars. Reading those line by line,
with each distinct line remembered (most lines of a queue repeat: ``retries:
0``, ``  model: vit``), is several times faster than composing YAML nodes.

``parse`` returns ``None`` for whatever it is not sure of (quotes spanning
lines, escapes, anchors, tags, comments, folded scalars, flow collections,
odd indentation), and the caller parses those bytes with libyaml. Plain
scalars resolve by PyYAML's own implicit resolvers and constructors, so a
value read here is the value the safe loader gives (a property test keeps
the two equal).
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
_SPECIAL_START = frozenset("'\"&*!|>%@`#{[]},?")  # a plain scalar never starts with these
MAX_DEPTH = 32  # deeper documents go libyaml's way (and meet its limits)
_CACHE_MAX = 1 << 16

_EMPTY_MAP, _EMPTY_SEQ, _OPEN = object(), object(), object()
_lines: dict[str, tuple[int, Any, Any]] = {}  # line -> (indent, key or _ITEM, value or _OPEN)
_ITEM = object()  # the "key" of a sequence item line


class _Unsure(Exception):
    """Something this reader does not handle: libyaml reads the file."""


def parse(data: bytes) -> dict[str, Any] | None:
    """The document of a file our writer made, or None to say "ask libyaml"."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\t" in text or "\r" in text or not text.endswith("\n"):
        return None
    try:
        known = _lines.get
        rows = [known(line) or _row(line) for line in text[:-1].split("\n")]
        doc, end = _block(rows, 0, 0, 0)
    except (_Unsure, ValueError, TypeError, OverflowError):
        return None
    if end != len(rows) or not isinstance(doc, dict):
        return None
    return doc


def _row(line: str) -> tuple[int, Any, Any]:
    hit = _lines.get(line)
    if hit is None:
        hit = _read_line(line)
        if len(line) <= 80:  # ids and times rarely repeat: not worth keeping
            if len(_lines) >= _CACHE_MAX:
                _lines.clear()
            _lines[line] = hit
    return hit


def _read_line(line: str) -> tuple[int, Any, Any]:
    body = line.lstrip(" ")
    indent = len(line) - len(body)
    if not body:
        raise _Unsure  # a blank line: part of a folded scalar
    if body == "-" or body.startswith("- "):
        return indent, _ITEM, body[2:] if len(body) > 1 else ""  # the item's text, read by _block
    if body[0] in "'\"":
        key, rest = _quoted_key(body)
    else:
        if body[0] in _SPECIAL_START:
            raise _Unsure  # a complex key, a flow mapping, a comment...
        colon = body.find(": ")
        if colon < 0:
            if not body.endswith(":"):
                raise _Unsure  # a continuation line of a folded scalar
            key_text, rest = body[:-1], ""
        else:
            key_text, rest = body[:colon], body[colon + 2 :]
        key = _scalar(key_text)
        if type(key) not in (str, int, float, bool) and key is not None:
            raise _Unsure  # a timestamp key: leave it to libyaml
    if key == "<<":
        raise _Unsure  # a merge key
    return indent, key, _OPEN if rest == "" else _value_text(rest)


def _quoted_key(body: str) -> tuple[str, str]:
    """``'key': rest`` (or with double quotes and no escapes): the key and the rest."""
    quote = body[0]
    end = 1
    while True:
        end = body.find(quote, end)
        if end < 0:
            raise _Unsure
        if quote == "'" and body[end + 1 : end + 2] == "'":
            end += 2  # '' is a quote inside single quotes
            continue
        break
    after = body[end + 1 :]
    if after == ":":
        rest = ""
    elif after.startswith(": "):
        rest = after[2:]
    else:
        raise _Unsure
    return _scalar(body[: end + 1]), rest


def _value_text(rest: str) -> Any:
    if rest == "{}":
        return _EMPTY_MAP
    if rest == "[]":
        return _EMPTY_SEQ
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
        or text != text.strip()
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


def _block(rows: list[tuple[int, Any, Any]], i: int, indent: int, depth: int) -> tuple[Any, int]:
    """The mapping or sequence whose lines start at ``rows[i]`` with this indentation."""
    if depth > MAX_DEPTH or i >= len(rows) or rows[i][0] != indent:
        raise _Unsure
    if rows[i][1] is _ITEM:
        return _sequence(rows, i, indent, depth)
    return _mapping(rows, i, indent, depth)


def _mapping(rows: list[tuple[int, Any, Any]], i: int, indent: int, depth: int) -> tuple[dict[Any, Any], int]:
    out: dict[Any, Any] = {}
    n = len(rows)
    entries = 0
    while i < n:  # the hot loop of a cold listing: kept free of calls it can spare
        at, key, value = rows[i]
        if at < indent or key is _ITEM:
            break
        if at != indent:
            raise _Unsure  # odd indentation
        i += 1
        entries += 1
        if value is _OPEN:
            if i < n and (rows[i][0] > indent or (rows[i][0] == indent and rows[i][1] is _ITEM)):
                value, i = _block(rows, i, rows[i][0], depth + 1)
            else:
                value = None
        elif value is _EMPTY_MAP:
            value = {}
        elif value is _EMPTY_SEQ:
            value = []
        out[key] = value
    if entries != len(out):
        raise _Unsure  # a duplicate key (libyaml keeps the last)
    return out, i


def _sequence(rows: list[tuple[int, Any, Any]], i: int, indent: int, depth: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    n = len(rows)
    while i < n:
        at, kind, text = rows[i]
        if at != indent or kind is not _ITEM:
            if at > indent:
                raise _Unsure
            break
        if text == "":
            i += 1
            if i < n and rows[i][0] > indent:
                item, i = _block(rows, i, rows[i][0], depth + 1)
            else:
                item = None
            out.append(item)
            continue
        if text == "-" or text.startswith("- ") or _is_entry(text):
            # "- a: 1" opens a mapping, "- - 1" a sequence, both two columns in
            rows = [*rows[:i], _read_line(" " * (indent + 2) + text), *rows[i + 1 :]]
            item, i = _block(rows, i, indent + 2, depth + 1)
        else:
            item = _made(_value_text(text))
            i += 1
        out.append(item)
    return out, i


def _is_entry(text: str) -> bool:
    """``- key: value`` or ``- key:`` (a mapping in a sequence), as opposed to ``- scalar``."""
    return text[0] not in "'\"" and (": " in text or text.endswith(":"))


def _made(value: Any) -> Any:
    if value is _EMPTY_MAP:
        return {}
    if value is _EMPTY_SEQ:
        return []
    return value
