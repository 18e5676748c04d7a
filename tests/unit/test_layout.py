"""File names: claim order is the sorted listing; ids survive the round trip."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from labtasker.fsqueue import ids, layout

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def test_sorted_pending_names_are_the_claim_order():
    tasks = [  # (priority, last_modified, id)
        (0, T0 + timedelta(seconds=2), "c"),
        (10, T0 + timedelta(seconds=5), "a"),
        (0, T0 + timedelta(seconds=1), "b"),
        (-5, T0, "d"),
        (10, T0 + timedelta(seconds=6), "e"),
    ]
    names = sorted(layout.pending_name(p, t, i) for p, t, i in tasks)
    assert [layout.task_id_of("pending", n) for n in names] == ["a", "e", "b", "c", "d"]


def test_names_encode_ids_and_owner():
    tid = ids.new_task_id()
    assert layout.task_id_of("running", layout.running_name(tid, "w.1")) == tid
    assert layout.worker_of_running(layout.running_name(tid, "w.1")) == "w.1"
    assert layout.task_id_of("done", layout.terminal_name(tid, "node-a")) == tid
    assert layout.task_id_of("attempts", layout.attempt_name(tid, "w.1", "ab12")) == tid


def test_task_ids_are_time_ordered_and_unique():
    made = [ids.new_task_id() for _ in range(2000)]
    assert len(set(made)) == 2000
    assert made == sorted(made)  # strictly increasing within a process
    assert all("--" not in i for i in made)


@pytest.mark.parametrize(
    ("name", "read"),
    [
        ("x.yaml", True),
        (".x.yaml", False),
        ("w.ab.tmp", False),
        ("x.yaml~", False),
        ("x.sync-conflict-20260101-120000-ABC.yaml", False),
        ("x (conflicted copy).yaml", False),
        (".nfs0000001", False),
    ],
)
def test_readers_skip_junk(name, read):
    assert layout.is_task_file(name) is read


def test_held_names_parse_back():
    name = layout.held_name("pending", "p.s--id.yaml", "h0badcafe", "123-456-ab")
    assert layout.parse_held(name) == ("pending", "h0badcafe", "123-456-ab", "p.s--id.yaml")
    assert layout.parse_held("w.abc.tmp") is None


@pytest.mark.parametrize("value", ["success", "done", "SUCCESS", " failed "])
def test_status_names(value):
    assert layout.parse_status(value).value in {"success", "failed"}


def test_unknown_status_lists_the_choices():
    with pytest.raises(ValueError, match="pending, running, success, failed, cancelled"):
        layout.parse_status("finished")
