"""Task documents: validation, dotted keys, merging; pure functions."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from labtasker.fsqueue import codec
from labtasker.fsqueue import documents as model

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def make(**kw):
    return model.new_task(task_id="t1", now=NOW, node="n1", **kw)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ({"a.b": 1}, {"a": {"b": 1}}),
        ({"a.b": 1, "a.c": 2}, {"a": {"b": 1, "c": 2}}),
        ({"a": {"x.y": 3}}, {"a": {"x": {"y": 3}}}),
        ({"a": {"b": 1}, "a.c": 2}, {"a": {"b": 1, "c": 2}}),
        ({"lr": 0.1, "tags": ("x", "y")}, {"lr": 0.1, "tags": ["x", "y"]}),
        ({"k-1": None, "K_2": True}, {"k-1": None, "K_2": True}),
    ],
)
def test_dotted_keys_nest(given, stored):
    assert make(args=given)["args"] == stored


@pytest.mark.parametrize("bad", ["a b", "", "a..b", "é", "x/y", "$gt", "a.", 1.5, (1, 2)])
def test_bad_key_is_a_value_error_naming_it(bad):
    with pytest.raises(ValueError, match="invalid key"):
        make(args={bad: 1})


def test_non_string_keys_are_stored_as_json_writes_them():
    stored = make(args={"arg4": {0: "zero", 1: "one", -2: "m"}, 7: True, True: None})["args"]
    assert stored == {"arg4": {"0": "zero", "1": "one", "-2": "m"}, "7": True, "true": None}


def test_unstorable_value_names_the_key():
    with pytest.raises(ValueError, match=r"args\.model\.net.*object"):
        make(args={"model": {"net": object()}})


def test_dotted_key_clashing_with_a_value_is_refused():
    with pytest.raises(ValueError, match="clashes"):
        make(args={"a": 1, "a.b": 2})


@pytest.mark.parametrize(
    ("field", "value"),
    [("priority", "high"), ("priority", 1.5), ("max_retries", -1), ("priority", True), ("priority", 10**9)],
)
def test_bad_ints_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        make(**{field: value})


def test_document_round_trips_through_yaml_in_file_order():
    doc = make(task_name="grid", args={"lr": 0.1}, metadata={"tags": ["v1"]})
    text = codec.dump(model.ordered(doc)).decode()
    assert text.splitlines()[0] == "task_id: t1"
    assert "&id" not in text  # no YAML anchors even when values repeat
    back = codec.load(text.encode())
    assert back["args"] == {"lr": 0.1}
    assert back["created_at"] == NOW


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "empty"),
        (b"task_id: [", "invalid YAML"),
        (b"- 1\n- 2\n", "not a mapping"),
        (b"<<<<<<< HEAD\ntask_id: a\n=======\ntask_id: b\n>>>>>>> x\n", "conflict"),
    ],
)
def test_unreadable_documents_are_named(data, why):
    with pytest.raises(codec.Unreadable, match=why):
        codec.load(data, required_key="task_id")


def test_deep_merge_keeps_other_keys():
    dst = {"a": {"b": 1, "c": 2}, "d": 3}
    model.deep_merge(dst, {"a": {"b": 9}, "e": 4})
    assert dst == {"a": {"b": 9, "c": 2}, "d": 3, "e": 4}
