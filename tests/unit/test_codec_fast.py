"""codec's direct way through YAML gives exactly what PyYAML's own way gives, bytes and values."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from labtasker.fsqueue import codec


class _Reference(yaml.CSafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def reference_dump(doc: Any) -> bytes:
    return yaml.dump(
        doc, Dumper=_Reference, sort_keys=False, allow_unicode=True, default_flow_style=False
    ).encode("utf-8")


def reference_load(data: bytes | str) -> Any:
    return yaml.load(data, Loader=yaml.CSafeLoader)


def same(a: Any, b: Any) -> bool:
    """Equal, NaN included, and of the same types all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return bool(a == b)


moments = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-3, minutes=-30))]),
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | moments
    | st.dates()
    | st.text()
    | st.sampled_from(["null", "yes", "~", "0x1F", "1e3", "1:30", "2026-01-01", "<<", "*a"])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=4)
    ),
    max_leaves=20,
)
documents = st.dictionaries(st.text(max_size=12), values, max_size=8)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_dump_writes_the_bytes_pyyaml_writes_and_load_reads_them_back_alike(doc: dict[str, Any]) -> None:
    data = codec.dump(doc)
    assert data == reference_dump(doc)
    assert same(codec.parse(data), reference_load(data))


@pytest.mark.parametrize("text", [
    "a: &x [1, 2]\nb: *x\n",                       # an alias
    "base: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n",  # a merge key
    "a: !!binary aGVsbG8=\n",                     # a tag the direct way leaves alone
    "a: !!set {x, y}\n",
    "a: !!python/object:os.system x\n",           # refused, as by the safe loader
    "a: &r [*r]\n",                               # recursive
    "? [1, 2]\n: x\n",                            # a key that is not a scalar
    "a: 0o17\nb: 0x1F\nc: 1_000\nd: .inf\ne: -.NaN\nf: 190:20:30\ng: Yes\nh: 2001-12-14t21:59:43.10-05:00\n",
    "a: 2026-11-20\nb: '2026-11-20'\nc: !!str 12\nd: !!int '12'\ne: ~\n",
    "- 1\n- 2\n", "just text\n", "", "a: b\n---\nc: d\n", "a: [1, 2\n",
])  # fmt: skip
def test_unusual_yaml_reads_as_pyyaml_reads_it(text: str) -> None:
    try:
        expected = reference_load(text)
    except yaml.YAMLError as exc:
        with pytest.raises(type(exc)):
            codec.parse(text)
        return
    got = codec.parse(text)
    assert type(got) is type(expected) and repr(got) == repr(expected)  # repr copes with the recursive one


def test_other_types_are_written_the_pyyaml_way() -> None:
    doc = {"day": date(2026, 11, 20), "pair": (1, 2), "ok": True, "n": 3, "x": 0.1, "none": None}
    assert codec.dump(doc) == reference_dump(doc)
    with pytest.raises(yaml.YAMLError):
        codec.dump({"c": 1j})  # refused, as yaml.safe_dump refuses it


def test_what_the_fast_readers_return_is_never_nested_too_deep() -> None:
    from labtasker.fsqueue import plain_yaml, simple_yaml

    assert plain_yaml.MAX_DEPTH + 2 <= codec.MAX_DEPTH  # so codec.parse need not check their depth
    assert simple_yaml.MAX_DEPTH + 2 <= codec.MAX_DEPTH
