"""The task state machine and user edits; pure functions with a fixed clock."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from labtasker.errors import InvalidTransition
from labtasker.fsqueue import documents as model
from labtasker.fsqueue import transitions
from labtasker.fsqueue.layout import TaskStatus

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
LATER = datetime(2026, 11, 20, 13, 0, tzinfo=timezone.utc)


def task(status="pending", **kw):
    doc = model.new_task(
        task_id="t1",
        now=NOW,
        node="n",
        args={"lr": 0.1, "model": "resnet"},
        metadata={"tags": ["v1"], "note": "x"},
        **kw,
    )
    doc["status"] = status
    return doc


ALLOWED = [
    ("pending", "cancelled"),
    ("running", "success"),
    ("running", "failed"),
    ("running", "cancelled"),
    ("running", "pending"),
    ("success", "pending"),
    ("failed", "pending"),
    ("cancelled", "pending"),
    ("failed", "cancelled"),
    ("success", "cancelled"),
]
REFUSED = [
    ("pending", "running"),
    ("pending", "success"),
    ("pending", "failed"),
    ("success", "failed"),
    ("failed", "success"),
    ("cancelled", "success"),
    ("success", "running"),
]


@pytest.mark.parametrize(("old", "new"), ALLOWED)
def test_allowed_changes(old, new):
    status, _ = transitions.apply_update(task(old), {"status": new}, now=LATER)
    assert status.value == new


@pytest.mark.parametrize(("old", "new"), REFUSED)
def test_refused_changes_say_what_is_allowed(old, new):
    with pytest.raises(InvalidTransition, match=f"from {old} to {new}"):
        transitions.apply_update(task(old), {"status": new}, now=LATER)


def test_dict_fields_merge_by_default():
    _, doc = transitions.apply_update(task(), {"args": {"lr": 0.005}}, now=LATER)
    assert doc["args"] == {"lr": 0.005, "model": "resnet"}
    assert doc["metadata"] == {"tags": ["v1"], "note": "x"}  # untouched


def test_replace_fields_replaces():
    _, doc = transitions.apply_update(task(), {"args": {"lr": 0.005}}, replace_fields=("args",), now=LATER)
    assert doc["args"] == {"lr": 0.005}


def test_status_pending_keeps_retries_but_reset_pending_clears_them():
    failed = task("failed")
    failed["retries"] = 3
    _, kept = transitions.apply_update(dict(failed), {"status": "pending"}, now=LATER)
    assert kept["retries"] == 3
    failed = task("failed")
    failed["retries"] = 3
    failed["worker_id"] = "w1"
    status, reset = transitions.apply_update(failed, {}, reset_pending=True, now=LATER)
    assert status == TaskStatus.PENDING
    assert reset["retries"] == 0
    assert reset["worker_id"] is None


def test_every_user_edit_bumps_the_generation_and_time():
    _, doc = transitions.apply_update(task(), {"priority": 5}, now=LATER)
    assert doc["gen"] == 1
    assert doc["last_modified"] == LATER


def test_unknown_field_is_refused():
    with pytest.raises(ValueError, match="retries"):
        transitions.apply_update(task(), {"retries": 0}, now=LATER)


def test_failure_retries_then_fails_for_good():
    doc = task("running", max_retries=2)
    status, doc = transitions.fail(doc, "boom", LATER)
    assert (status, doc["retries"], doc["last_error"]) == (TaskStatus.PENDING, 1, "boom")
    status, doc = transitions.fail(doc, "boom again", LATER)
    assert (status, doc["retries"]) == (TaskStatus.FAILED, 2)


def test_max_retries_zero_fails_at_first_failure():
    status, _ = transitions.fail(task("running", max_retries=0), "x", LATER)
    assert status == TaskStatus.FAILED


@pytest.mark.parametrize(
    ("path", "value", "fields"),
    [
        ("args.lr", 0.005, {"args": {"lr": 0.005}}),
        ("metadata.tags", ["v2"], {"metadata": {"tags": ["v2"]}}),
        ("status", "cancelled", {"status": "cancelled"}),
        ("args.optimizer.lr", 1, {"args": {"optimizer": {"lr": 1}}}),
    ],
)
def test_patch_paths(path, value, fields):
    out: dict = {}
    transitions.patch_path(out, path, value)
    assert out == fields


@pytest.mark.parametrize("path", ["retries", "priority.x", "args..x", "bogus.x"])
def test_bad_patch_paths(path):
    with pytest.raises(ValueError):
        transitions.patch_path({}, path, 1)
