"""Plans: how the rows of one shape of file make its document, recorded from the careful reader.

Most files of a queue share their shape, the heads of their lines (see ``plain_lines``), and differ
only in a few scalars: an id, the times, a seed. A plan is made once per shape by reading one file
the careful way (``plain_yaml``) with each scalar replaced by a ``Slot`` naming its line; it keeps
the containers of that document as data (their keys, and which line or inner container fills each
place). Since the careful reader's path through a file depends on the heads of its lines and never
on their scalars, another file of that shape reads as the plan says, with its own scalars in the
slots. Scalars folded over several lines are read again from the file's own lines (a "span"), and
if one ends on another line than it did when the plan was made, the file is read the careful way.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from labtasker.fsqueue.plain_lines import plain_on, quoted_on, read_unseen
from labtasker.fsqueue.plain_scalars import Unsure


class Slot:
    """The place of a line's scalar in the document of a plan."""

    __slots__ = ("line",)

    def __init__(self, line: int) -> None:
        self.line = line


# (line, where a quoted scalar starts or -1 for a plain one, the indent of its key, an item?, the
# line after it)
Span = tuple[int, int, int, bool, int]
Unseen = tuple[int, Any, int]  # (line, its head, the length of the head if a scalar follows, else -1)
Step = tuple[Any, Any]  # (the keys of a mapping, or _SLICE or _GATHER for a sequence; its pick)
_SLICE = object()  # a sequence of consecutive places: its pick is a slice, a fresh list
_GATHER = object()  # a sequence of other places: a list of what its pick takes


class Plan:
    __slots__ = ("spans", "steps", "unseen")

    def __init__(
        self, spans: tuple[Span, ...], steps: tuple[Step, ...], unseen: tuple[Unseen, ...] = ()
    ) -> None:
        # The values of a file are its lines' scalars, then None (a "key:" with nothing below it),
        # then one container per step, made of its keys and of the values its pick takes: an
        # index, or a slice for a list of scalars on consecutive lines (a fresh list).
        self.spans = spans
        self.steps = steps
        # The lines of this plan's shape that were not remembered (``None`` in the heads the plan
        # was found by), each to be read and checked against the head it should have.
        self.unseen = unseen


def plan_of(doc: dict[Any, Any], spans: dict[int, Span], lines: int) -> Plan:
    """The plan of a document read with slots; ``Unsure`` if it holds a value no slot gave."""
    steps: list[Step] = []

    def place(value: Any, in_mapping: bool) -> Any:
        kind = type(value)
        if kind is Slot:
            return int(value.line)
        if value is None:
            return lines
        if kind is dict:
            places = [place(item, True) for item in value.values()]
            if len(places) > 1:
                steps.append((tuple(value), itemgetter(*places)))
            elif places:  # a tuple all the same: zip stops at the keys' end
                steps.append((tuple(value), itemgetter(places[0], places[0])))
            else:
                steps.append(((), None))
        elif kind is list:
            places = [place(item, False) for item in value]  # indexes: no slice in a list
            first = places[0] if places else 0
            if places == list(range(first, first + len(places))):
                if in_mapping:
                    return slice(first, first + len(places))  # made by the mapping's pick
                steps.append((_SLICE, itemgetter(slice(first, first + len(places)))))
            else:
                steps.append((_GATHER, itemgetter(*places)))  # two or more
        else:
            raise Unsure  # no plan for a value read from the plan's own file
        return lines + len(steps)

    place(doc, False)
    return Plan(tuple(spans.values()), tuple(steps))


def build(plan: Plan, lines: list[str], values_of: dict[str, Any]) -> Any:
    """The document of a file of the plan's shape: fresh containers, the file's own scalars."""
    values = list(map(values_of.get, lines))
    if plan.unseen:
        read_unseen(plan.unseen, lines, values)
    for i, at, indent, item, end in plan.spans:
        if at >= 0:
            value, after = quoted_on(lines, i, at, indent)
        else:
            _, (value, after) = plain_on(lines, i, indent, item)
        if after != end:
            raise Unsure  # it goes on over other lines than in the plan's file
        values[i] = value
    add = values.append
    add(None)
    for keys, pick in plan.steps:
        if keys is _SLICE:
            add(pick(values))
        elif keys is _GATHER:
            add(list(pick(values)))
        elif keys:
            add(dict(zip(keys, pick(values), strict=False)))  # a pick of one place takes it twice
        else:
            add({})
    return values[-1]
