"""Comparisons, arithmetic and functions on task values, for filters; pure.

A task's values are whatever YAML held, so nothing here may raise on a task:
a comparison with ``MISSING`` or None (or across types that do not order) is
false, and arithmetic that fails gives ``MISSING``. Only literals folded at
compile time raise, so the compiler can point at them.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

import simpleeval

from labtasker.filters.field_paths import MISSING, as_instant

MAX_INT_BITS = 10_000  # largest integer arithmetic may produce (about 3000 digits)


# --- comparison: false instead of an error ------------------------------------------


def eq(a: Any, b: Any) -> bool:
    """``a == b``; instants compare whatever their form; MISSING or None is equal to nothing."""
    if a is MISSING or b is MISSING or a is None or b is None:
        return False
    if type(a) is type(b) and type(a) is not datetime:
        return bool(a == b)
    if isinstance(a, date) or isinstance(b, date):  # instants, whatever their form
        left, right = as_instant(a), as_instant(b)
        return left is not None and left == right
    return bool(a == b)


def _ne(a: Any, b: Any) -> bool:
    if a is MISSING or b is MISSING or a is None or b is None:
        return False
    return not eq(a, b)


def _ordering(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        if a is MISSING or b is MISSING or a is None or b is None:
            return False
        try:
            return bool(op(a, b))
        except TypeError:  # across types: only instants (naive vs aware, str vs datetime) retry
            left, right = as_instant(a), as_instant(b)
            return left is not None and right is not None and bool(op(left, right))

    return compare


def _contains(a: Any, container: Any) -> bool:
    if a is MISSING or container is MISSING or a is None or container is None:
        return False
    try:
        return a in container
    except TypeError:
        return False


def _not_contains(a: Any, container: Any) -> bool:
    if a is MISSING or container is MISSING or a is None or container is None:
        return False
    try:
        return a not in container
    except TypeError:
        return False


COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: eq,
    ast.NotEq: _ne,
    ast.Lt: _ordering(operator.lt),
    ast.LtE: _ordering(operator.le),
    ast.Gt: _ordering(operator.gt),
    ast.GtE: _ordering(operator.ge),
    ast.In: _contains,
    ast.NotIn: _not_contains,
}


def matches(search: Callable[[str], Any], value: Any) -> bool:
    """``regex()``: true only for a string the compiled pattern finds something in."""
    return type(value) is str and search(value) is not None


# --- arithmetic: bounded, MISSING instead of an error ---------------------------------


def _mul(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and a.bit_length() + b.bit_length() > MAX_INT_BITS:
        raise simpleeval.NumberTooHigh("product too large")
    return simpleeval.safe_mult(a, b)  # bounds repeated strings and lists


def _pow(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and b > 0 and a.bit_length() * b > MAX_INT_BITS + b:
        raise simpleeval.NumberTooHigh("power too large")
    return a**b  # floats overflow quickly with OverflowError


def mod(a: Any, b: Any) -> Any:
    """``a % b`` for numbers only: ``"%s" % x`` is string formatting, and ``"%*d"`` can be huge."""
    if isinstance(a, (str, bytes)):
        raise TypeError("string formatting with % is not allowed")
    return a % b


# simpleeval's bounded add and multiply; its power bound (4e6 either side) is too
# loose for ints and too strict for floats, hence _pow.
ARITHMETIC: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: simpleeval.DEFAULT_OPERATORS[ast.Add],
    ast.Sub: simpleeval.DEFAULT_OPERATORS[ast.Sub],
    ast.Mult: _mul,
    ast.Div: simpleeval.DEFAULT_OPERATORS[ast.Div],
    ast.FloorDiv: simpleeval.DEFAULT_OPERATORS[ast.FloorDiv],
    ast.Mod: mod,
    ast.Pow: _pow,
}
ARITHMETIC_ERRORS = (ArithmeticError, TypeError, ValueError, simpleeval.InvalidExpression)


def guarded(op: Callable[..., Any]) -> Callable[..., Any]:
    """``op`` for one task: MISSING in, or any arithmetic error, gives MISSING."""

    def run(*values: Any) -> Any:
        for value in values:
            if value is MISSING or value is None:
                return MISSING
        try:
            return op(*values)
        except ARITHMETIC_ERRORS:
            return MISSING

    return run


# --- functions of values --------------------------------------------------------------


def _as_list(x: Any) -> Any:
    return list(x) if isinstance(x, (list, tuple)) else MISSING


def _as_dict(x: Any) -> Any:
    return x if isinstance(x, Mapping) else MISSING


def _length(x: Any) -> Any:
    return len(x) if isinstance(x, (str, list, tuple, Mapping)) else MISSING


def _text(method: Callable[[str], str]) -> Callable[[Any], Any]:
    return lambda x: method(x) if isinstance(x, str) else MISSING


def _to_str(x: Any) -> Any:
    return x.isoformat() if isinstance(x, datetime) else str(x)


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    """min/max of several values, or of one list."""
    return lambda *xs: pick(xs[0]) if len(xs) == 1 else pick(xs)


# Plain functions of their values: name -> (implementation, fewest args, most args).
FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int]] = {
    "list": (_as_list, 1, 1),
    "dict": (_as_dict, 1, 1),
    "len": (_length, 1, 1),
    "lower": (_text(str.lower), 1, 1),
    "upper": (_text(str.upper), 1, 1),
    "str": (_to_str, 1, 1),
    "int": (int, 1, 1),
    "float": (float, 1, 1),
    "abs": (abs, 1, 1),
    "min": (_extreme(min), 1, 32),
    "max": (_extreme(max), 1, 32),
}
