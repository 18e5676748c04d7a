"""simple_yaml writes the bytes PyYAML writes, and reads back only what it wrote, as PyYAML reads it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labtasker.fsqueue import simple_yaml, yaml_io
from tests.unit.test_codec_fast import reference_dump, reference_load, same

words = st.from_regex(r"[A-Za-z_][A-Za-z0-9_./\-]{0,12}", fullmatch=True)
hexes = st.from_regex(r"[0-9a-f]{1,16}", fullmatch=True) | st.uuids().map(str)
tricky = st.sampled_from(
    ["null", "Null", "yes", "No", "on", "OFF", "true", "y", "0b101", "0b1a", "12", "1e5", "1.5", ".5",
     "2026-01-01", "1_000", "0x1f", "abc", "e", "_", "a.b-c", "inf", ".inf", "nan", "~", "-", "a b", "<<", ""]
)  # fmt: skip
moments = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from(
        [timezone.utc, timezone(timedelta(hours=-3, minutes=-30)), timezone(timedelta(0))]
    ),
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | moments
    | st.datetimes()  # naive: not of the simple kind
    | words
    | hexes
    | tricky
    | st.text(max_size=6)
)
keys = words | hexes | tricky | st.integers()
values = st.recursive(
    scalars,
    lambda inner: st.lists(scalars, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=24,
)
documents = st.dictionaries(keys, values, max_size=8)
simple_scalars = st.none() | st.booleans() | st.integers() | st.floats() | moments | words | hexes
simple_keys = words | hexes
simple_documents = st.dictionaries(
    simple_keys,
    st.recursive(
        simple_scalars,
        lambda inner: st.lists(simple_scalars, max_size=4) | st.dictionaries(simple_keys, inner, max_size=4),
        max_leaves=24,
    ),
    max_size=8,
)  # mostly of the simple kind: most of these take the direct way


def yaml_io_dump(doc: dict[Any, Any]) -> bytes:
    return yaml_io.dump(doc)


@settings(max_examples=600, deadline=None)
@given(documents | simple_documents)
def test_write_gives_pyyamls_bytes_or_declines(doc: dict[Any, Any]) -> None:
    text = simple_yaml.write(doc)
    if text is not None:
        data = text.encode("ascii")
        assert data == reference_dump(doc) == yaml_io_dump(doc)
        read = simple_yaml.read(data)
        assert read is not None
        assert same(read, reference_load(data))
        assert same(read, doc)


@settings(max_examples=300, deadline=None)
@given(documents | simple_documents)
def test_read_accepts_only_what_write_writes_and_reads_it_as_pyyaml(doc: dict[Any, Any]) -> None:
    data = reference_dump(doc)
    read = simple_yaml.read(data)
    if read is not None:
        assert same(read, reference_load(data))
        assert [repr(getattr(v, "tzinfo", None)) for v in read.values()] == [
            repr(getattr(v, "tzinfo", None)) for v in reference_load(data).values()
        ]
        assert simple_yaml.write(read) == data.decode()


@pytest.mark.parametrize("nonce", ["75beff74d1429a8d", "0b44212a8c29e006", "0b1d109e9b0287ec"])
def test_a_submitted_task_and_a_queue_file_are_of_the_simple_kind(nonce: str) -> None:
    """Whatever its random parts: a nonce starting 0b (one task in 300) sent every such submit to
    PyYAML, whose import costs a command about 10 ms."""
    now = datetime(2026, 12, 6, 1, 23, 29, 22218, tzinfo=timezone.utc)
    task = {
        "task_id": "6ffb3073-2ee4-8653-bb44-480000364000", "task_name": None, "status": "pending",
        "priority": 0, "retries": 0, "max_retries": 3, "args": {"lr": 0.001, "model": "resnet", "opt": {"m": 0.9}},
        "metadata": {"tags": ["v1", "experimental"]}, "summary": {}, "cmd": None, "created_at": now,
        "last_modified": now, "start_time": None, "worker_id": None, "life": [1, "vm-e7e1d5", nonce],
    }  # fmt: skip
    queue = {"queue_name": "default", "format": 1, "created_at": now, "metadata": {}}
    for doc in (task, queue):
        text = simple_yaml.write(doc)
        assert text is not None
        assert text.encode() == reference_dump(doc)
        assert simple_yaml.read(text.encode()) == doc


def test_other_texts_are_left_to_pyyaml() -> None:
    for data in [
        b"a: 'x'\n",
        b"a: x # c\n",
        b"a: 012\n",
        b"a:\n  - 1\n",
        b"a: {b: 1}\n",
        b"- 1\n",
        b"a: 1",
        b"",
    ]:
        assert simple_yaml.read(data) is None
