"""The merge rules, one by one, on documents made by the real transitions (pure: no files)."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from labtasker.fsqueue import attempts, transitions, versions
from labtasker.fsqueue.documents import new_task
from labtasker.fsqueue.layout import TaskStatus
from labtasker.replicas import merge
from labtasker.replicas.merge import Version

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
Doc = dict[str, Any]


def put(doc: Doc, status: str, node: str) -> Doc:
    """What FsQueue.put does to a document, without the file."""
    doc = copy.deepcopy(doc)
    doc["status"] = status
    doc["rev"] = int(doc.get("rev") or 0) + 1
    doc["node"] = node
    versions.stamp_life(doc, doc["rev"], node)
    return doc


def submitted() -> Doc:
    return put(
        new_task(task_id="t1", now=T0, node="seed", args={"lr": 0.1, "bs": 32}, metadata={"tags": ["v1"]}),
        "pending",
        "seed",
    )


def claimed(doc: Doc, node: str, minute: int = 1) -> Doc:
    return put(
        transitions.claim(copy.deepcopy(doc), f"{node}.w", T0 + timedelta(minutes=minute)), "running", node
    )


def ended(doc: Doc, status: str, node: str, **summary: Any) -> Doc:
    doc = copy.deepcopy(doc)
    if status == "failed":
        new, doc = transitions.fail(doc, "boom", T0 + timedelta(minutes=9), summary)
        return put(doc, new.value, node)
    return put(transitions.succeed(doc, summary, T0 + timedelta(minutes=9)), status, node)


def edited(doc: Doc, node: str, fields: Doc, **kw: Any) -> Doc:
    status, doc = transitions.apply_update(
        copy.deepcopy(doc), fields, now=T0 + timedelta(hours=1), node=node, **kw
    )
    return put(doc, status.value, node)


def winner(*docs: Doc) -> Doc:
    plan = merge.resolve([Version(_dir(d), d) for d in docs])
    assert plan.keep is not None
    return plan.keep[2]


def _dir(doc: Doc) -> str:
    return TaskStatus(doc["status"]).dirname


def test_a_tombstone_deletes_the_task_whatever_else_arrives_and_keeps_its_results() -> None:
    done = ended(claimed(submitted(), "a"), "success", "a", acc=0.5)
    plan = merge.resolve([Version("done", done), Version("pending", submitted())], [{"task_id": "t1"}])
    assert plan.keep is None
    (kept,) = plan.archives.values()
    assert (kept["status"], kept["summary"], kept["ran_with"]["args"]) == (
        "success",
        {"acc": 0.5},
        {"lr": 0.1, "bs": 32},
    )


def test_an_explicit_requeue_beats_a_stale_success_from_another_node() -> None:
    base = submitted()
    failed = ended(ended(ended(claimed(base, "a"), "failed", "a"), "failed", "a"), "failed", "a")
    requeued = edited(failed, "a", {}, reset_pending=True)
    stale_success = ended(claimed(base, "b"), "success", "b", acc=0.9)
    got = winner(stale_success, requeued)
    assert (got["status"], got["retries"]) == ("pending", 0)
    plan = merge.resolve([Version("done", stale_success), Version("pending", requeued)])
    assert [r["status"] for r in plan.archives.values()] == ["success"], "the success is kept, not lost"


@pytest.mark.parametrize(
    ("low", "high"), [("pending", "running"), ("running", "success"), ("pending", "cancelled")]
)
def test_terminal_beats_running_beats_pending(low: str, high: str) -> None:
    base = submitted()
    versions = {
        "pending": edited(base, "a", {"priority": 1}),  # a's edit: its pending stays pending
        "running": claimed(base, "b"),
        "success": ended(claimed(base, "c"), "success", "c"),
        "cancelled": ended(claimed(base, "c"), "cancelled", "c"),
    }
    assert winner(versions[low], versions[high])["status"] == high
    assert winner(versions[high], versions[low])["status"] == high


def test_success_beats_failure_and_ties_break_by_node_id() -> None:
    base = submitted().copy()
    base["max_retries"] = 1
    ok = ended(claimed(base, "b"), "success", "b")
    bad = ended(claimed(base, "a"), "failed", "a")
    assert winner(bad, ok)["status"] == "success"
    first = ended(claimed(base, "node-a"), "success", "node-a", acc=1)
    second = ended(claimed(base, "node-b"), "success", "node-b", acc=2)
    assert winner(second, first)["summary"] == {"acc": 2}, "a tie goes to the node id that sorts last"


def test_a_later_step_of_one_history_beats_its_own_past_sent_back_by_an_old_replica() -> None:
    running = claimed(submitted(), "a")
    retry = ended(running, "failed", "a")  # back to pending with one retry
    assert retry["status"] == "pending"
    got = winner(running, retry)
    assert (got["status"], got["retries"]) == ("pending", 1)


def test_edits_to_different_fields_both_survive_and_the_newer_edit_of_one_field_wins() -> None:
    base = submitted()
    a = edited(base, "a", {"args": {"lr": 0.5}, "metadata": {"note": "a"}})
    b = edited(base, "b", {"metadata": {"tags": ["v2"]}, "priority": 7})
    got = winner(a, b)
    assert got["args"] == {"lr": 0.5, "bs": 32}
    assert got["metadata"] == {"note": "a", "tags": ["v2"]}
    assert got["priority"] == 7
    later = edited(a, "a", {"args": {"lr": 0.9}})  # gen 2 beats b's gen 1 on the same path
    clash = edited(base, "b", {"args": {"lr": 0.01}})
    assert winner(clash, later)["args"]["lr"] == 0.9
    tie_a, tie_b = edited(base, "node-a", {"task_name": "x"}), edited(base, "node-b", {"task_name": "y"})
    assert winner(tie_a, tie_b)["task_name"] == "y", "a tie goes to the node id that sorts last"


def test_an_edit_survives_a_concurrent_run_without_requeueing_it() -> None:
    base = submitted()
    done = ended(claimed(base, "b"), "success", "b", acc=0.8)
    tagged = edited(base, "a", {"metadata": {"tags": ["keep"]}})
    got = winner(tagged, done)
    assert (got["status"], got["summary"], got["metadata"]["tags"]) == ("success", {"acc": 0.8}, ["keep"])


def test_replacing_a_dict_drops_keys_the_other_side_still_has() -> None:
    base = submitted()
    replaced = edited(base, "a", {"args": {"lr": 1}}, replace_fields=("args",))
    assert winner(base, replaced)["args"] == {"lr": 1}


def test_two_runs_one_wins_the_other_is_archived_under_a_name_every_replica_agrees_on() -> None:
    base = submitted()
    a = ended(claimed(base, "a"), "success", "a", acc=1)
    b = ended(claimed(base, "b", minute=2), "success", "b", acc=2)
    one = merge.resolve([Version("done", a), Version("done", b)])
    two = merge.resolve([Version("done", b), Version("done", a)])
    assert one == two
    ((name, record),) = one.archives.items()
    assert name.startswith("t1--a.w--m") and record["summary"] == {"acc": 1} and record["status"] == "success"
    assert attempts.is_archive_name(name)
    edited_same_run = edited(a, "c", {"metadata": {"x": 1}})
    assert merge.resolve([Version("done", a), Version("done", edited_same_run)]).archives == {}


def test_join_is_commutative_associative_and_idempotent() -> None:
    base = submitted()
    docs = [
        ended(claimed(base, "a"), "success", "a"),
        edited(base, "b", {"metadata": {"k": 1}}),
        claimed(edited(base, "c", {"priority": 3}), "c"),
        ended(claimed(base, "d"), "failed", "d"),
    ]
    whole = merge.join(docs)
    assert merge.join(docs[::-1]) == whole
    assert merge.join([merge.join(docs[:2]), merge.join(docs[2:])]) == whole
    assert merge.join([merge.join(docs[:1]), merge.join(docs[1:3]), docs[3]]) == whole
    assert merge.join([whole, whole]) == whole == merge.join([whole])


def test_documents_without_merge_fields_still_merge() -> None:
    old = {k: v for k, v in submitted().items() if k not in ("life", "clocks", "sgen")}
    newer = ended(claimed(old, "a"), "success", "a")
    assert winner(old, newer)["status"] == "success"
    assert merge.join([old])["life"][0] == old["rev"]


def test_a_cancel_on_one_node_beats_a_run_finishing_on_another_and_keeps_its_result() -> None:
    base = submitted()
    cancelled = edited(base, "a", {"status": "cancelled"})
    finished = ended(claimed(base, "b"), "success", "b", acc=0.7)
    plan = merge.resolve([Version("done", finished), Version("cancelled", cancelled)])
    assert plan.keep is not None and plan.keep[0] == "cancelled"
    assert [(r["status"], r["summary"]) for r in plan.archives.values()] == [("success", {"acc": 0.7})]


def test_concurrent_edits_of_one_path_end_the_same_everywhere() -> None:
    base = submitted()
    edits = [edited(base, node, {"metadata": {"tags": [node]}}) for node in ("n1", "n3", "n2")]
    results = {
        tuple(winner(*order)["metadata"]["tags"]) for order in (edits, edits[::-1], edits[1:] + edits[:1])
    }
    assert results == {("n3",)}


# ------------------------------------------------- args edited while a run elsewhere finished
def _requeue_case() -> tuple[Doc, Doc, Doc]:
    base = submitted()
    edit = edited(base, "c", {"args": {"lr": 0.5}, "priority": 7})
    success = ended(claimed(base, "a"), "success", "a", acc=0.71)
    return base, edit, success


def test_an_args_edit_a_run_never_saw_re_queues_the_task_and_keeps_the_result() -> None:
    base, edit, success = _requeue_case()
    plan = merge.resolve([Version("pending", edit), Version("done", success), Version("pending", base)])
    assert plan.keep is not None
    dirname, _, doc = plan.keep
    assert (dirname, doc["args"], doc["priority"], doc["summary"]) == (
        "pending",
        {"lr": 0.5, "bs": 32},
        7,
        {},
    )
    assert (doc["retries"], doc["worker_id"], "ran_with" in doc) == (0, None, False)
    (kept,) = plan.archives.values()
    assert (kept["summary"], kept["ran_with"]["args"]) == ({"acc": 0.71}, {"lr": 0.1, "bs": 32})


def test_the_re_queue_is_a_join_whatever_the_grouping() -> None:
    base, edit, success = _requeue_case()
    other = ended(claimed(base, "b", minute=2), "success", "b", acc=0.7)
    docs = [base, edit, success, other]
    whole = merge.join(docs)
    assert whole["status"] == "pending"
    for a in range(len(docs)):
        for b in range(len(docs)):
            left, right = docs[:a] + docs[a + 1 :], [docs[a], docs[b]]
            assert merge.join([merge.join(left), merge.join(right)]) == whole
    assert merge.join([whole, success]) == whole and merge.join([whole, whole]) == whole
    rerun = ended(claimed(whole, "a", minute=3), "success", "a", acc=0.75)
    again = merge.join([rerun, *docs])
    assert (again["status"], again["summary"], again["ran_with"]["args"]["lr"]) == (
        "success",
        {"acc": 0.75},
        0.5,
    )


def test_an_edit_of_args_seen_by_the_run_or_made_after_it_does_not_re_queue() -> None:
    base = submitted()
    seen = edited(base, "c", {"args": {"lr": 0.5}})
    ran = ended(claimed(seen, "a"), "success", "a", acc=0.7)
    assert merge.join([seen, ran])["status"] == "success", "the run ran with 0.5"
    after = edited(ran, "a", {"args": {"lr": 0.9}})  # the user's own edit of a finished task
    doc = merge.join([base, seen, ran, after])
    assert (doc["status"], doc["args"]["lr"], doc["ran_with"]["args"]["lr"]) == ("success", 0.9, 0.5)
    running = claimed(base, "a")
    during = edited(running, "a", {"args": {"lr": 0.3}})  # edited while it ran, on the same node
    done = ended(during, "success", "a", acc=0.6)
    doc = merge.join([running, during, done])
    assert (doc["status"], doc["args"]["lr"], doc["ran_with"]["args"]["lr"]) == ("success", 0.3, 0.1)
