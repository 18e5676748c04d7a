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
