"""The value of one line of our own YAML: a plain scalar resolved as the safe loader resolves it,
a quoted one folded and unescaped by the rules of YAML's scanner (``plain_yaml`` reads the lines).

What is not sure to read as the safe loader reads it raises ``Unsure``: the caller leaves the file
to libyaml.
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
_WILDCARD = tuple(_IMPLICIT.get(None, []))

# The resolvers of each first character, as they are when this module loads, joined into one pattern
# whose n-th group is the n-th resolver's: one match instead of a loop (the first alternative that
# matches wins, as in the loop). Any that cannot be joined (not PyYAML's own) are looped over.
_JOINED: dict[str, tuple[tuple[str, ...], re.Pattern[str]]] = {}
_LOOPED: dict[str, tuple[tuple[str, re.Pattern[str]], ...]] = {}
for _first, _resolvers in _IMPLICIT.items():
    if _first is None:
        continue
    _all = tuple(_resolvers) + _WILDCARD
    _flags = {pattern.flags for _, pattern in _all}
    if len(_flags) == 1 and not any(pattern.groups for _, pattern in _all):
        _joined = "|".join(f"({pattern.pattern})" for _, pattern in _all)
        _JOINED[_first] = (tuple(str(tag) for tag, _ in _all), re.compile(_joined, _flags.pop()))
    else:
        _LOOPED[_first] = _all
_BUILD = {
    _TAG + "int": SafeConstructor.construct_yaml_int,
    _TAG + "float": SafeConstructor.construct_yaml_float,
    _TAG + "bool": SafeConstructor.construct_yaml_bool,
    _TAG + "timestamp": SafeConstructor.construct_yaml_timestamp,
}
_CONSTRUCTOR = SafeConstructor()
# A decimal int without a leading zero (YAML 1.1 reads 012 as octal), and the time our writer emits
# (``isoformat(" ")`` of an aware datetime): both resolve as the safe loader would resolve them.
# A float as Python writes it (digits on both sides of the point: no ".5", "1.", "1_0.0", ".inf");
# an id: a digit, then a letter before any "." (a float needs a "." or a ":", an int no letter but
# after "0b" or "0x", a time a ":" or no letter); and a word of letters, digits and ``_./-`` (no
# white space, no ":" or "#"), which only the implicit resolvers tell from "yes", "0x1F" or "1e3".
# One match finds the shape.
_COMMON = re.compile(
    r"(-?(?:0|[1-9][0-9]{0,17}))"
    r"|([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{6})?[+-][0-9]{2}:[0-9]{2})"
    r"|(-?[0-9]+\.[0-9]+(?:e[-+][0-9]+)?)"
    r"|((?!0[bx])[0-9][0-9_/-]*[A-Za-z][A-Za-z0-9_/-]*)"
    r"|([A-Za-z0-9_./][A-Za-z0-9_./-]*)"
)
SPECIAL_START = frozenset("'\"&*!|>%@`#{[]},")  # a plain scalar never starts with these ("?x" may)
_SINGLE_RUN = re.compile(r"[^' \n]*")
_DOUBLE_RUN = re.compile(r'[^"\\ \n]*')
_HEX = re.compile(r"[0-9A-Fa-f]+")
_ESCAPES = {
    "0": "\0", "a": "\x07", "b": "\x08", "t": "\t", "n": "\n", "v": "\x0b", "f": "\x0c", "r": "\r",
    "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0", "L": "\u2028",
    "P": "\u2029",
}  # fmt: skip
_CODES = {"x": 2, "u": 4, "U": 8}


class Unsure(Exception):
    """Something this reader does not handle: libyaml reads the file."""


class Short(Exception):
    """A quoted scalar goes on past the text at hand."""


class Mark:
    """A value a line cannot hold by itself: a block follows, an empty collection, a folded scalar."""

    __slots__ = ("at",)

    def __init__(self, at: int = -1) -> None:
        self.at = at  # for a quoted scalar that goes on past its line: where in the line it starts


OPEN, EMPTY_MAP, EMPTY_SEQ, ENTRY = Mark(), Mark(), Mark(), Mark()


def value_text(line: str, at: int) -> Any:
    """The value whose text starts at column ``at``: a scalar, or a ``Mark``."""
    rest = line[at:]
    if rest == "{}":
        return EMPTY_MAP
    if rest == "[]":
        return EMPTY_SEQ
    if rest[:1] in ("'", '"'):
        try:
            value, end = quoted(rest)
        except Short:
            return Mark(at)  # it goes on over the next lines
        if end != len(rest):
            raise Unsure  # something after the closing quote
        return value
    return scalar(rest)


def scalar(text: str) -> Any:
    """A one-line scalar: plain (resolved as the safe loader does) or quoted without escapes."""
    value = common(text)
    if value is not NOT_COMMON:
        return value
    first = text[0] if text else ""
    if first == "'":
        if len(text) < 2 or not text.endswith("'"):
            raise Unsure
        inner = text[1:-1]
        if "'" in inner.replace("''", ""):
            raise Unsure
        return inner.replace("''", "'")
    if first == '"':
        if len(text) < 2 or not text.endswith('"') or "\\" in text or '"' in text[1:-1]:
            raise Unsure
        return text[1:-1]
    if (
        first in SPECIAL_START
        or " #" in text
        or ": " in text
        or text.endswith(":")
        or text != text.strip(" ")  # YAML's white space; tabs never get this far
        or text[:2] in ("- ", "? ")
        or text in ("-", "?")
    ):
        raise Unsure  # not plain in YAML: our writer would have quoted it
    return _resolved(text, _resolve(first, text))


def _resolved(text: str, tag: str | None) -> Any:
    if tag is None:
        return text
    if tag == _TAG + "null":
        return None
    build = _BUILD.get(tag)
    if build is None:
        raise Unsure  # merge, value, yaml tags
    return build(_CONSTRUCTOR, ScalarNode(tag, text))


def common(text: str) -> Any:
    """The value of a plain scalar of the shapes every task file has, read (but for words) without
    the resolvers; ``NOT_COMMON`` for any other text."""
    shape = _COMMON.fullmatch(text)
    if shape is None:
        return NOT_COMMON
    return _READ[shape.lastindex](text)  # type: ignore[index]


def _word(text: str) -> Any:
    return _resolved(text, _resolve(text[0], text))


NOT_COMMON = object()
_READ: tuple[Any, ...] = (
    None,
    int,
    datetime.fromisoformat,
    float,
    str,
    _word,
)  # by the group of _COMMON that matched


def _resolve(first: str, text: str) -> str | None:
    """The tag the safe loader's implicit resolvers give a plain scalar; None for a string."""
    joined = _JOINED.get(first)
    if joined is not None:
        match = joined[1].match(text)
        return None if match is None else joined[0][match.lastindex - 1]  # type: ignore[operator]
    for tag, pattern in _LOOPED.get(first, _WILDCARD):
        if pattern.match(text):
            return str(tag)
    return None


def quoted(s: str) -> tuple[str, int]:
    """The quoted scalar at the start of ``s`` (lines joined by "\\n"), folded and unescaped as
    YAML's scanner does it, and where it ends; ``Short`` if ``s`` ends first."""
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
            raise Short
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
            raise Short
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
        raise Short
    ch = s[i]
    if ch in _ESCAPES:
        out.append(_ESCAPES[ch])
        return i + 1
    if ch in _CODES:
        digits = s[i + 1 : i + 1 + _CODES[ch]]
        if len(digits) != _CODES[ch] or not _HEX.fullmatch(digits):
            raise Unsure
        code = int(digits, 16)
        if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
            raise Unsure
        out.append(chr(code))
        return i + 1 + len(digits)
    if ch == "\n":  # an escaped line break: no space, and the next line's indentation dropped
        return _breaks(s, i + 1, out)
    raise Unsure


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
