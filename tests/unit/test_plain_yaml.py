"""The fast reader of our own YAML gives exactly what the safe loader gives, or steps aside."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from labtasker.fsqueue import codec, plain_yaml


def same(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down (NaN equals NaN; key order counts)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, datetime):
        return a == b and a.utcoffset() == b.utcoffset()
    return bool(a == b)


def safe_load(data: bytes) -> Any:
    return yaml.load(data, Loader=yaml.CSafeLoader)


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["yes", "No", "on", "~", "null", "0o17", "0x1F", "1_000", "1:30", "1e3", ".5", "-", "- a",
                       "a: b", "#x", "x #y", "'q'", '"d"', "2026-12-05", "2026-12-05 10:00:00", "<<", "=", " pad"])
    | st.datetimes(timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-3))]))
)  # fmt: skip
keys = st.text(min_size=1, max_size=10) | st.sampled_from(
    ["0", "1", "true", "null", "a b", "x:y", "-k", "<<"]
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=16,
)


@settings(max_examples=400, deadline=None)
@given(doc=st.dictionaries(keys, values, max_size=6))
def test_what_our_writer_emits_reads_the_same_or_is_left_to_libyaml(doc: dict[str, Any]) -> None:
    data = codec.dump(doc)
    quick = plain_yaml.parse(data)
    if quick is not None:
        assert same(quick, safe_load(data)), data.decode()


def test_a_task_file_is_read_by_the_fast_reader() -> None:
    doc = {
        "task_id": "01a2-x",
        "task_name": None,
        "status": "pending",
        "priority": 10,
        "args": {
            "lr": 0.001,
            "model": "vit",
            "layers": [64, 32],
            "opt": {"name": "adam", "betas": [0.9, 0.99]},
        },
        "metadata": {"tags": ["v1", "exp"], "note": "it's fine"},
        "summary": {},
        "created_at": datetime(2026, 12, 5, 12, 0, 1, 5, tzinfo=timezone.utc),
        "life": [3, "node-a", "c6e4"],
        "cmd": ["python", "train.py", "--lr", "0.1"],
        "runs": [{"worker": "w1", "ok": True}, {"worker": "w2", "ok": False, "items": []}],
    }
    data = codec.dump(doc)
    quick = plain_yaml.parse(data)
    assert quick is not None, data.decode()
    assert same(quick, safe_load(data))
    assert same(quick, doc)


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\n# a comment\n",
        "a: &x 1\nb: *x\n",
        "a: !!python/tuple [1]\n",
        "a: 'two\n  lines'\n",
        'a: "esc\\taped"\n',
        "a: b: c\n",
        "a: - b\n",
        "a: 1\na: 2\n",
        "? complex\n: key\n",
        "<<: {b: 1}\n",
        "a:\n  b: 1\n c: 2\n",
        "a: 1\n\nb: 2\n",
        "a:\tb\n",
        "- 1\n- 2\n",
        "just text\n",
        "a: {b: 1}\n",
        "a: [1, 2]\n",
        "a: long plain\n  continued\n",
        "a: 1",
        "---\na: 1\n",
        "a: |\n  block\n",
        "key : 1\n",
        "a: x #c\n",
    ],
)
def test_anything_else_is_left_to_libyaml(text: str) -> None:
    data = text.encode()
    quick = plain_yaml.parse(data)
    if quick is None:
        return
    assert same(quick, safe_load(data)), text  # only what it reads exactly as the safe loader


def test_bytes_that_are_not_utf8_are_left_to_libyaml() -> None:
    assert plain_yaml.parse(b"a: \xff\n") is None


def test_deep_nesting_is_left_to_libyaml() -> None:
    text = "".join("  " * i + f"k{i}:\n" for i in range(40)) + "  " * 40 + "v: 1\n"
    assert plain_yaml.parse(text.encode()) is None
    assert codec.parse(text.encode())["k0"]["k1"] is not None


tame_text = st.text(alphabet="abcxyz019._-/ ,", max_size=20)
tame = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | tame_text
    | st.sampled_from(["yes", "0", "1e3", "~"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tame_text.filter(bool), inner, max_size=3),
    max_leaves=12,
)
read_fast: list[bool] = []


@settings(max_examples=400, deadline=None)
@given(doc=st.dictionaries(tame_text.filter(bool), tame, max_size=6))
def test_documents_like_a_sweeps_read_fast_and_the_same(doc: dict[str, Any]) -> None:
    data = codec.dump(doc)
    quick = plain_yaml.parse(data)
    read_fast.append(quick is not None)
    if quick is not None:
        assert same(quick, safe_load(data)), data.decode()


def test_most_documents_like_a_sweeps_took_the_fast_way() -> None:
    assert len(read_fast) >= 100  # the property test above ran first (file order)
    assert sum(read_fast) / len(read_fast) > 0.6


# Strings a sweep, a traceback or a note holds: long ones our writer folds over several lines, line
# breaks, quotes, escapes, look-alikes of numbers, dates, booleans and null, padding, '#', ':'.
prose = st.text(
    alphabet=st.sampled_from(list("ab z09.-_/:#'\"\\ \n\t\x07é漢🙂")) | st.characters(codec="utf-8"),
    max_size=200,
)
tricky = st.sampled_from(
    ["", " ", "yes", "No", "~", "null", "1e3", "0x1F", "012", "1_0", "2026-12-05", "2026-12-05 10:00:00+02:00",
     "a: b", "x #y", "#x", "- a", "'q'", '"d"', " pad ", "tab\there", "line1\nline2", "\n\nlead", "trail\n",
     "a  b" * 30, "word " * 40, "it's " * 30 + "\nend", 'Traceback (most recent call last):\n  File "x.py"\n'],
)  # fmt: skip
our_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=True, allow_infinity=True)
    | prose
    | tricky
    | st.datetimes(
        timezones=st.sampled_from(
            [timezone.utc, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=3))]
        )
    )
)
our_keys = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\\\n\t\r"), min_size=1, max_size=20
)
our_values = st.recursive(
    our_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(our_keys, inner, max_size=4),
    max_leaves=20,
)
_ODD = ("\x85", "\u2028", "\u2029", "\ufeff")  # folded or dropped raw by YAML: left to libyaml on purpose


def _has_odd(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_odd(k) or _has_odd(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_odd(v) for v in value)
    return isinstance(value, str) and (any(c in value for c in _ODD))


@settings(max_examples=600, deadline=None)
@given(doc=st.dictionaries(our_keys, our_values, min_size=1, max_size=6))
def test_whatever_our_writer_emits_is_read_fast_and_exactly_as_libyaml_reads_it(doc: dict[str, Any]) -> None:
    data = codec.dump(doc)
    quick = plain_yaml.parse(data)
    reference = safe_load(data)
    assert same(reference, doc)  # the writer's round trip, for the record
    if quick is None:
        # left to libyaml on purpose: odd line breaks, a "<<" (merge) key, a key too long to be simple
        assert _has_odd(doc) or any(k == "<<" or len(k) > 100 for k in _keys_of(doc)), data.decode()
    else:
        assert same(quick, reference), data.decode()


def _keys_of(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [k for k in value if isinstance(k, str)] + [k for v in value.values() for k in _keys_of(v)]
    if isinstance(value, list):
        return [k for v in value for k in _keys_of(v)]
    return []


@pytest.mark.parametrize(
    "text",
    [
        "task_id: a  # edited by hand\nargs: {lr: 0.1, model: vit}\n",
        "task_id: a\nargs:\n    lr: 0.1\n    tags: [x, y]\n",
        "task_id: a\nnote: |\n  kept\n  as is\n",
        "task_id: a\nnote: >\n  folded\n  text\n",
        "task_id: a\nnote: 'it''s\n\n  two'\nwhen: 2026-12-05T10:00:00Z\n",
        'task_id: a\nnote: "tab\\there \\u00e9 \\\n  joined"\n',
        "task_id: a\r\nargs:\r\n  lr: 0.1\r\n",
        "\ufefftask_id: a\nargs: {}\n",
    ],
)
def test_hand_edited_files_are_read_as_libyaml_reads_them(text: str) -> None:
    data = text.encode()
    assert same(codec.load(data), safe_load(data)), text


# Files of one shape (the same keys, lists and nesting) that differ in their scalars, read one after
# the other: the first makes the plan of its shape, the others are read by it, with their own values
# on lines the reader has not seen (ids, times), scalars folded over other lines, look-alikes of
# numbers, dates and ids.
ids = st.sampled_from(
    ["8e439ba8-ff92-8cb9-a217-1fc000539000", "15e653e2d44c9ea6", "0b1a", "0x1g", "0b101", "0x1F", "1e3",
     "2026-12-05", "1_000", "0o17", "12:30", "1.5e-3", "7e", "3.", "-1", "0", "007", "9" * 25, "vm-a1.b2"]
)  # fmt: skip
shape_scalars = our_scalars | ids


def _refill(template: Any, draw: Any) -> Any:
    """The template with each scalar drawn anew (the same keys, lists and nesting)."""
    if isinstance(template, dict):
        return {key: _refill(value, draw) for key, value in template.items()}
    if isinstance(template, list):
        return [_refill(value, draw) for value in template]
    return draw(shape_scalars)


@st.composite
def one_shape(draw: Any) -> list[dict[str, Any]]:
    template = draw(st.dictionaries(tame_text.filter(bool), our_values, min_size=1, max_size=6))
    return [_refill(template, draw) for _ in range(draw(st.integers(2, 6)))]


@settings(max_examples=300, deadline=None)
@given(docs=one_shape())
def test_files_of_one_shape_read_as_libyaml_reads_each(docs: list[dict[str, Any]]) -> None:
    for doc in docs + docs:  # and again, once every line has been seen
        data = codec.dump(doc)
        quick = plain_yaml.parse(data)
        reference = safe_load(data)
        if quick is None:
            assert _has_odd(doc), data.decode()
        else:
            assert same(quick, reference), data.decode()


@pytest.mark.parametrize(
    "texts",
    [
        # a quoted scalar that ends a line sooner or later, the heads of the lines the same
        ["a: 'p\n  q\n  r'\nb: 1\n", "a: 'p\n  q'\n  r\nb: 1\n", "a: 'p\n\n  r'\nb: 1\n"],
        ["a: 'p\n  q\n  r'\nb: 1\n", "a: 'p'\n  q\n  r'\nb: 1\n"],
        # a plain scalar folded over more or fewer lines
        ["a: p\n  q\n  r\nb: 1\n", "a: p\n  q\nb: 1\n", "a: p\n  q\n r\nb: 1\n"],
        # a line that was a scalar's becomes an opening, an empty collection, an item, a comment
        ["a: 1\nb:\n  c: 2\n", "a: 1\nb: 3\n  c: 2\n", "a: 1\nb: {}\n  c: 2\n", "a: 1\nb:\n  c:\n"],
        ["l:\n- 1\n- 2\n", "l:\n- - 1\n- 2\n", "l:\n- a: 1\n- 2\n", "l:\n- \n- 2\n", "l:\n-\n- 2\n"],
        ["a: 1\nb: 2\n", "a: 1\nb: 2 # c\n", "a: 1\nb: '2'\n", "a: 1\nb: 'x\n", "a: 1\nb: ~\n"],
        ["k: 1\n", "k: \n", "k: x: y\n", "k: - 1\n", "k: [1]\n", "k: !!str 1\n", "k: &a 1\n"],
    ],
)
def test_a_file_like_one_read_before_is_read_as_libyaml_reads_it(texts: list[str]) -> None:
    for text in texts + texts:
        quick = plain_yaml.parse(text.encode())
        if quick is not None:
            assert same(quick, safe_load(text.encode())), text


def test_each_document_read_is_a_fresh_one() -> None:
    data = codec.dump({"a": {"b": [1, 2], "c": {}}, "d": [[1], {"e": []}], "f": None, "g": "x"})
    first = plain_yaml.parse(data)
    second = plain_yaml.parse(data)
    assert first is not None and first == second
    first["a"]["b"].append(3)
    first["a"]["c"]["new"] = 1
    first["d"][0].clear()
    first["d"][1]["e"].append(0)
    assert plain_yaml.parse(data) == second == safe_load(data)


def test_what_the_reader_remembers_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from labtasker.fsqueue import plain_lines

    monkeypatch.setattr(plain_lines, "CACHE_MAX", 50)
    monkeypatch.setattr(plain_yaml, "_PLANS_MAX", 20)
    for i in range(400):  # every file of its own shape, every line of its own
        doc = {f"k{i}": i, "id": f"{i:x}-{i}", f"n{i % 7}": {"x": [i] * (i % 5)}}
        assert same(plain_yaml.parse(codec.dump(doc)), doc)
    assert len(plain_yaml._plans) <= 20
    assert all(len(cache) <= 50 for cache in (*plain_lines.remembered, plain_lines.ROWS, plain_lines._once))


def test_a_long_file_is_read_as_libyaml_reads_it() -> None:
    doc = {f"k{i}": {"v": i, "l": [i, str(i)]} for i in range(600)}  # over a thousand lines
    data = codec.dump(doc)
    assert same(plain_yaml.parse(data), safe_load(data))
