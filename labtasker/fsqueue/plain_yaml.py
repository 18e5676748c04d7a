"""A fast reader for the YAML our own writer emits; anything else is left to libyaml.

Task files are block-style mappings written by ``codec.dump``: ``key: value``
lines, nested mappings indented by two, sequences as ``- item`` lines, ``{}``
and ``[]`` for empty ones, and scalars: plain, single-quoted, or
double-quoted with escapes, any of them folded over several lines when long
or holding line breaks (a traceback, a multi-line note). Each line is read
alone into a row (``plain_lines``; most lines of a queue repeat, and each
distinct one is remembered), then the rows into the document: by the plan of
the file's shape when one is known (``plain_plans``: most files of a queue
share their shape), else the careful way below, which is also how a plan is
made. Both are several times faster than composing YAML nodes.

``parse`` returns ``None`` for whatever it is not sure of (anchors, tags,
comments, block scalars, flow collections, complex keys, odd indentation,
unusual line breaks), and the caller parses those bytes with libyaml. Plain
scalars resolve by PyYAML's own implicit resolvers and constructors, and
quoted ones fold and unescape by the scanner's rules, so a value read here is
the value the safe loader gives (a property test keeps the two equal).
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from labtasker.fsqueue import plain_lines
from labtasker.fsqueue.plain_lines import BAD, ITEM, ROWS, Row, plain_on, quoted_on, read_line
from labtasker.fsqueue.plain_plans import Plan, Slot, Span, build, plan_of
from labtasker.fsqueue.plain_scalars import EMPTY_MAP, EMPTY_SEQ, ENTRY, OPEN, Mark, Short, Unsure

MAX_DEPTH = 32  # deeper documents go libyaml's way (and meet its limits); see codec.MAX_DEPTH
_FAILED = (Unsure, Short, ValueError, TypeError, OverflowError)
_HEAD = itemgetter(3)
_ROW = ROWS.__getitem__
_NO_PLAN = Plan((), ())  # a shape the careful reader reads without a plan (or not at all)
_PLANS_MAX = 1024
_PLAN_LINES = 1000  # a longer file is read the careful way: plans stay small
# The heads of a file's lines (None for a line not remembered) -> its plan. Plans never change.
_plans: dict[tuple[Any, ...], Plan] = {}


def parse(data: bytes) -> dict[str, Any] | None:
    """The document of a file our writer made, or None to say "ask libyaml"."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    # Tabs; line breaks of YAML that are not "\n", a byte order mark: our writer escapes them in
    # double quotes but may write them raw in single quotes, where they fold; libyaml reads those.
    if not text.endswith("\n") or "\t" in text or "\r" in text or (not text.isascii() and _odd(text)):
        return None
    lines = text.split("\n")
    lines.pop()
    if len(lines) > _PLAN_LINES:
        return _careful(_Reading(list(map(_ROW, lines)), lines))
    values_of, heads_of = plain_lines.remembered  # this parse's pair (see plain_lines)
    heads = tuple(map(heads_of.get, lines))
    plan = _plans.get(heads)
    if plan is None:
        plan = _plan_for(heads, lines)
    if plan is not _NO_PLAN:
        try:
            return build(plan, lines, values_of)  # type: ignore[no-any-return]  # a plan's root is a dict
        except _FAILED:
            pass  # a line of another head than the plan's, or a scalar folded over other lines
    return _careful(_Reading(list(map(_ROW, lines)), lines))


def _odd(text: str) -> bool:
    return "\x85" in text or "\u2028" in text or "\u2029" in text or "\ufeff" in text


def _plan_for(heads: tuple[Any, ...], lines: list[str]) -> Plan:
    """The plan for files whose lines have these heads (None: not remembered), made from this one."""
    rows = list(map(_ROW, lines))
    full = tuple(map(_HEAD, rows))
    plan = _plans.get(full)
    if plan is None:
        plan = _plan(rows, lines)
        _keep(full, plan)
    if full != heads and plan is not _NO_PLAN:
        unseen = tuple(
            (i, full[i], -1 if type(rows[i][2]) is Mark or rows[i][1] is BAD else len(full[i]))
            for i, head in enumerate(heads)
            if head is None
        )
        plan = Plan(plan.spans, plan.steps, unseen)
    _keep(heads, plan)
    return plan


def _keep(heads: tuple[Any, ...], plan: Plan) -> None:
    if len(_plans) >= _PLANS_MAX:
        _plans.clear()  # bounded; a plan is made again from the next file of its shape
    _plans[heads] = plan


def _plan(rows: list[Row], lines: list[str]) -> Plan:
    """The plan of this file's shape: the careful reading of its rows with a slot for each scalar."""
    slotted = [(r[0], r[1], r[2] if type(r[2]) is Mark else Slot(i), r[3]) for i, r in enumerate(rows)]
    reading = _Reading(slotted, list(lines), {})
    doc = _careful(reading)
    if doc is None or reading.spans is None:
        return _NO_PLAN
    try:
        return plan_of(doc, reading.spans, len(rows))
    except Unsure:
        return _NO_PLAN


class _Reading:
    """The rows and lines of one file, read the careful way; ``spans`` records a plan's spans."""

    __slots__ = ("lines", "rows", "spans")

    def __init__(self, rows: list[Row], lines: list[str], spans: dict[int, Span] | None = None) -> None:
        self.rows = rows
        self.lines = lines  # this reading's own: a "- key: value" item is rewritten as "  key: value"
        self.spans = spans


def _careful(r: _Reading) -> dict[str, Any] | None:
    try:
        doc, end = _block(r, 0, 0, 0)
    except _FAILED:
        return None
    if end != len(r.rows) or not isinstance(doc, dict):
        return None
    return doc


def _block(r: _Reading, i: int, indent: int, depth: int) -> tuple[Any, int]:
    """The mapping or sequence whose lines start at ``rows[i]`` with this indentation."""
    rows = r.rows
    if depth > MAX_DEPTH or i >= len(rows) or rows[i][0] != indent:
        raise Unsure
    if rows[i][1] is ITEM:
        return _sequence(r, i, indent, depth)
    return _mapping(r, i, indent, depth)


def _mapping(r: _Reading, i: int, indent: int, depth: int) -> tuple[dict[Any, Any], int]:
    out: dict[Any, Any] = {}
    rows = r.rows
    n = len(rows)
    start = i
    while i < n:
        at, key, value, _ = rows[i]
        if at != indent:
            if at < indent:
                break
            if i == start:
                raise Unsure
            key, value, i = _plain(r, i - 1, indent, False)
            out[key] = value  # the previous entry's value, folded over the lines after it
            continue
        if key is ITEM:
            break
        if key is BAD or key in out:
            raise Unsure  # a line not understood, or a duplicate key (libyaml keeps the last)
        i += 1
        if type(value) is Mark:
            value, i = _special(r, i, indent, depth, value, False)
        out[key] = value
    return out, i


def _sequence(r: _Reading, i: int, indent: int, depth: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    rows = r.rows
    n = len(rows)
    start = i
    while i < n:
        at, kind, value, _ = rows[i]
        if at != indent:
            if at < indent:
                break
            if i == start:
                raise Unsure
            _, out[-1], i = _plain(r, i - 1, indent, True)  # the previous item, folded
            continue
        if kind is not ITEM:
            if kind is BAD:
                raise Unsure
            break
        i += 1
        if type(value) is Mark:
            value, i = _special(r, i, indent, depth, value, True)
        out.append(value)
    return out, i


def _plain(r: _Reading, i: int, indent: int, item: bool) -> tuple[Any, Any, int]:
    """The key, the value and the next line of a plain scalar on line ``i`` folded over the next."""
    key, (value, end) = plain_on(r.lines, i, indent, item)
    if r.spans is not None:
        r.spans[i] = (i, -1, indent, item, end)
        value = Slot(i)
    return key, value, end


def _special(r: _Reading, i: int, indent: int, depth: int, mark: Mark, item: bool) -> tuple[Any, int]:
    """The value of a row (an ``item`` or not) whose value is a ``Mark``; ``i`` is the row after it."""
    rows = r.rows
    if mark is OPEN:  # a key's sequence may start at the key's indentation, an item's may not
        if i < len(rows) and (
            rows[i][0] > indent or (not item and rows[i][0] == indent and rows[i][1] is ITEM)
        ):
            return _block(r, i, rows[i][0], depth + 1)
        return None, i
    if mark is EMPTY_MAP:
        return {}, i
    if mark is EMPTY_SEQ:
        return [], i
    if mark is ENTRY:  # "- a: 1": the mapping (or "- - 1": the sequence) starts two columns in
        if r.spans is not None:
            raise Unsure  # its head is the whole line: no plan for it (lists of mappings are rare)
        line = " " * (indent + 2) + r.lines[i - 1][indent + 2 :]
        r.lines[i - 1] = line  # read the item as a line of its own
        try:
            rows[i - 1] = read_line(line)
        except _FAILED:
            raise Unsure from None
        return _block(r, i - 1, indent + 2, depth + 1)
    value, end = quoted_on(r.lines, i - 1, mark.at, indent)
    if r.spans is not None:
        r.spans[i - 1] = (i - 1, mark.at, indent, False, end)
        return Slot(i - 1), end
    return value, end
