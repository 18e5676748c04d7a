"""The filter language: an expression is compiled once into a predicate; pure.

``compile('args.lr > 0.01 and "v1" in list(metadata.tags)')`` parses the text
once, checks every node against a whitelist, and turns the tree into nested
Python closures. Evaluating a task is then plain function calls: no parsing,
no tree walk, no ``eval``, no shared state (so one predicate serves many
threads). ``docs/filters.md`` describes the language for users.

The rule for missing fields: a path that leads nowhere, or to null, is
``MISSING``; every comparison with it is false, ``not`` of that is true, and
arithmetic on it stays ``MISSING``. ``x == None`` asks "is x missing or null".

The pieces, each in its own module of ``labtasker.filters``: ``compiler``
(syntax to closures), ``nodes`` (the closures), ``values`` (comparison and
arithmetic that never raise), ``dates`` (``date(...)``), ``dict_query`` (MongoDB
style dict queries), ``refusals`` (messages with a caret), ``field_paths``
(dotted paths inside task documents) and ``sorting`` (``sort_by`` keys).
"""

from __future__ import annotations

import ast
import json
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from labtasker.errors import FilterError
from labtasker.filters.compiler import MAX_DEPTH, MAX_LENGTH, Compiler
from labtasker.filters.dates import parse_date
from labtasker.filters.dict_query import compile_query
from labtasker.filters.field_paths import FIELDS, WORKER_FIELDS
from labtasker.filters.nodes import Doc, Predicate, accept_all
from labtasker.filters.refusals import Refused, error
from labtasker.filters.values import MAX_INT_BITS

__all__ = [
    "MAX_DEPTH",
    "MAX_INT_BITS",
    "MAX_LENGTH",
    "WORKER_FIELDS",
    "Doc",
    "Predicate",
    "compile",
    "parse_date",
    "time_filter",
]

_BLANKS = {ord(c): " " for c in "\r\n\t\f\v"}


def compile(
    expr: str | Mapping[str, Any] | None,
    *,
    now: datetime | None = None,
    fields: frozenset[str] = FIELDS,
) -> Predicate:
    """Compile a filter expression, or a dict query, into a predicate over task documents.

    ``fields``: the top-level names the filter may use (``WORKER_FIELDS`` for workers).
    """
    if expr is None or (isinstance(expr, str) and not expr.strip()):
        return accept_all
    if isinstance(expr, Mapping):
        return compile_query(expr, fields)
    if not isinstance(expr, str):
        raise FilterError(f"invalid filter: expected a string or a dict, not {type(expr).__name__}")
    # An expression is one line: newlines and tabs mean nothing, and one line keeps carets right.
    text = expr.translate(_BLANKS).strip()
    query = dict_literal(text)
    if query is not None:
        return compile_query(query, fields)
    try:
        node = Compiler(text, now, fields).run()
    except Refused as refused:
        raise error(refused.problem, text, *refused.span) from None
    return node.fn  # the compiler only gives conditions: always a bool


def dict_literal(text: str) -> dict[str, Any] | None:
    """The dict query written as text (``'{"args.lr": {"$gt": 0.1}}'``), or None if it is not one.

    A command line's ``-f`` is text; written as a dict, JSON or Python, it is the
    same MongoDB-style query the Python API takes as a dict.
    """
    if not text.startswith("{") or len(text) > MAX_LENGTH:
        return None
    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(value, dict):
            return value
    try:
        written_as_dict = isinstance(ast.parse(text, mode="eval").body, ast.Dict)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        written_as_dict = False
    if written_as_dict:
        raise error(
            "a dict query takes literal values only (JSON or Python), as in"
            ' {"args.lr": {"$gt": 0.01}}; to compare fields, write an expression: args.lr > 0.01',
            text,
            0,
            len(text),
        )
    return None


def time_filter(
    expr: str | Mapping[str, Any], docs: list[Doc], *, now: datetime | None = None
) -> tuple[int, float]:
    """Compile ``expr`` once, run it over ``docs``: (matches, seconds spent evaluating only)."""
    predicate = compile(expr, now=now)
    start = time.perf_counter()  # a monotonic timer for benchmarks, not the wall clock
    matches = sum(1 for doc in docs if predicate(doc))
    return matches, time.perf_counter() - start
