"""The TUI driven by a pilot on a copy of sample_queue/; the files on disk are checked after."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from labtasker.fsqueue import codec
from labtasker.fsqueue.store import FsQueue
from tests.tui.conftest import SIZE, make_app, settle

pytestmark = pytest.mark.timeout(60)

FAILED_OOM = "019593e1-be80-7003-8dbd-06568db8df93"  # grid_search lr=0.001 resnet18 seed 2
PENDING_GRID = "019593e1-be80-700f-b896-32e653faa3c4"  # grid_search lr=0.01 vit_s seed 2, first pending


def states_of(queue: FsQueue) -> dict[str, str]:
    """task id -> state directory, from the files on disk."""
    out = {}
    for dirname in ("pending", "running", "done", "failed", "cancelled"):
        for name in queue.names(dirname):
            out[name.removesuffix(".yaml").split("--")[1 if dirname == "pending" else 0]] = dirname
    return out


def doc_of(queue: FsQueue, task_id: str) -> dict[str, Any]:
    found = queue.find(task_id)
    assert found is not None, task_id
    return codec.load((queue.path / found.dirname / found.name).read_bytes())


def table(app: Any) -> Any:
    return app.query_one("#tasks")


def column(app: Any, key: str) -> list[str]:
    """The cells of one column, top to bottom, as shown."""
    t = table(app)
    return [str(t.get_cell(row.key, key)) for row in t.ordered_rows]


def current_id(app: Any) -> str:
    return table(app).current.task_id


async def show(pilot: Any, state_key: str) -> None:
    await pilot.press(state_key)
    await settle(pilot)


async def cursor_to(pilot: Any, task_id: str) -> None:
    t = table(pilot.app)
    t.move_cursor(row=t.task_ids().index(task_id))
    await settle(pilot)


# ------------------------------------------------------------------ navigation
async def test_opens_on_pending_with_counts_in_the_tree(sample: FsQueue) -> None:
    app = make_app(sample)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = app.query_one("#states")
        labels = {state: str(node.label) for state, node in tree.leaves.items()}
        assert labels["pending"].split() == ["pending", "7"]
        assert labels["success"].split() == ["success", "15"]
        assert labels["attempts"].split() == ["attempts", "1"]
        assert labels["quarantine"].split() == ["quarantine", "0"]
        assert str(tree.root.label) == "sweep  32 tasks"
        assert table(app).row_count == 7
        assert current_id(app) == PENDING_GRID  # claim order: the head of pending/


async def test_keys_and_clicks_move_between_states(sample: FsQueue) -> None:
    app = make_app(sample)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await show(pilot, "4")
        assert app.view.state == "failed"
        assert set(column(app, "retries")) == {"3/3"}
        await pilot.click("#states", offset=(4, 2))  # the "running" line of the tree
        await settle(pilot)
        assert app.view.state == "running"
        assert sorted(column(app, "worker")) == ["lab-node1.gpu1", "lab-node1.gpu2", "lab-node1.gpu3"]
        await show(pilot, "6")
        assert app.view.state == "attempts" and table(app).row_count == 1
        assert not app.check_action("cancel", ())  # attempts are records, not tasks


async def test_detail_shows_yaml_error_attempts_and_log(sample: FsQueue) -> None:
    app = make_app(sample)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await show(pilot, "4")
        await cursor_to(pilot, FAILED_OOM)
        detail = app.query_one("#detail").detail
        on_disk = next((sample.path / "failed").glob(f"{FAILED_OOM}--*.yaml")).read_text()
        assert detail.text == on_disk
        assert "RuntimeError: CUDA out of memory" in detail.error
        assert detail.log_label.startswith("sample_queue/logs/run/") and "epoch" not in detail.log
        await show(pilot, "5")
        await cursor_to(pilot, "019593e7-3cc0-701d-9bd9-a8e7f6927f59")  # cancelled while it ran
        detail = app.query_one("#detail").detail
        assert [doc["reason"] for _, doc in detail.attempts] == ["lease lost before the result was saved"]
        tabs = app.query_one("#detail-tabs")
        assert str(tabs.get_tab("tab-attempts").label) == "attempts (1)"
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert tabs.active == "tab-attempts"


async def test_running_task_log_is_followed(sample: FsQueue) -> None:
    app = make_app(sample)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await show(pilot, "2")
        await cursor_to(pilot, "019593e1-be80-7006-9f40-87ff4b8acc07")  # on gpu1
        detail = app.query_one("#detail").detail
        assert detail.running and detail.log.splitlines()[-1].endswith("loss=1.5640")
        with open(detail.log_path, "a", encoding="utf-8") as fh:
            fh.write("[12:20:05] epoch 2/5 loss=1.1000\n")
        app._follow()  # what the one-second timer does
        await settle(pilot)
        assert app.query_one("#detail").detail.log.splitlines()[-1].endswith("loss=1.1000")


# ------------------------------------------------------------------ filter and sort
async def test_filter_narrows_the_table_and_a_bad_one_is_explained(sample: FsQueue) -> None:
    app = make_app(sample)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await show(pilot, "3")
        await pilot.press("slash")
        await pilot.press(*"summary.acc > 0.9")
        await settle(pilot)
        accs = [float(a) for a in column(app, "summary.acc")]
        assert accs and all(a > 0.9 for a in accs)
        assert len(accs) < 15
        await pilot.press("backspace", "backspace", "backspace", "backspace")
        await settle(pilot)
        error = app.query_one("#filter-error")
        assert error.display and "invalid filter" in str(error.render())
        assert table(app).row_count == len(accs)  # the last good filter still applies
        await pilot.press("enter")
        assert table(app).has_focus


async def test_clicking_a_header_sorts_by_it(sample: FsQueue) -> None:
    app = make_app(sample)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await show(pilot, "3")
        t = table(app)
        x = sum(c.get_render_width(t) for c in t.ordered_columns[: t.get_column_index("summary.acc")])
        await pilot.click("#tasks", offset=(x + 2, 0))
        await settle(pilot)
        accs = [float(a) for a in column(app, "summary.acc")]
        assert accs == sorted(accs) and app.view.sort == "summary.acc"
        await pilot.click("#tasks", offset=(x + 2, 0))
        await settle(pilot)
        assert [float(a) for a in column(app, "summary.acc")] == sorted(accs, reverse=True)
        await pilot.press("s")  # the next column
        await settle(pilot)
        assert app.view.sort == "summary.epochs" and not app.view.reverse


async def test_metric_columns_can_be_chosen(sample: FsQueue) -> None:
    app = make_app(sample, state="success")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        keys = [c.key.value for c in table(app).ordered_columns]
        assert keys[4:7] == ["summary.acc", "summary.epochs", "summary.loss"]
        await pilot.press("m")
        await pilot.press(*"loss", "enter")
        await settle(pilot)
        assert [c.key.value for c in table(app).ordered_columns][4:6] == ["summary.loss", "priority"]
        assert "summary.acc" not in [c.key.value for c in table(app).ordered_columns]


# ------------------------------------------------------------------ actions
async def test_cancel_asks_first_and_moves_the_file(sample: FsQueue) -> None:
    app = make_app(sample)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await pilot.press("n")  # refused: nothing changes
        await settle(pilot)
        assert states_of(sample)[PENDING_GRID] == "pending"
        await pilot.press("c")
        await pilot.press("y")
        await settle(pilot)
        assert states_of(sample)[PENDING_GRID] == "cancelled"
        assert doc_of(sample, PENDING_GRID)["status"] == "cancelled"
        assert PENDING_GRID not in table(app).task_ids()
        assert str(app.query_one("#states").leaves["cancelled"].label).split() == ["cancelled", "4"]


async def test_requeue_marked_failed_tasks_resets_retries(sample: FsQueue) -> None:
    app = make_app(sample, state="failed")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("space", "space")  # marks two, moving down
        assert len(app.marks) == 2
        marked = set(app.marks)
        await pilot.press("r", "y")
        await settle(pilot)
        states = states_of(sample)
        for task_id in marked:
            assert states[task_id] == "pending"
            doc = doc_of(sample, task_id)
            assert (doc["retries"], doc["worker_id"]) == (0, None)
        assert table(app).row_count == 2 and not app.marks


async def test_priority_prompt_renames_the_pending_file(sample: FsQueue) -> None:
    app = make_app(sample)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await show(pilot, "1")
        last = table(app).task_ids()[-1]
        await cursor_to(pilot, last)
        await pilot.press("p")
        await pilot.press(*"42", "enter")  # the old value is selected: typing replaces it
        await settle(pilot)
        assert doc_of(sample, last)["priority"] == 42
        assert sample.names("pending")[0].startswith("099999958.") and last in sample.names("pending")[0]
        assert table(app).task_ids()[0] == last and current_id(app) == last  # the cursor follows it
        await pilot.press("p", *"x", "enter")
        await settle(pilot)
        assert doc_of(sample, last)["priority"] == 42


EDITOR = """\
import sys, yaml
path = sys.argv[1]
doc = yaml.safe_load(open(path))
doc["args"]["lr"] = 0.02
doc["metadata"]["note"] = "edited in the tui"
open(path, "w").write(yaml.safe_dump(doc))
"""


async def test_edit_in_editor_replaces_args_and_metadata(
    sample: FsQueue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "editor.py"
    script.write_text(EDITOR)
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    app = make_app(sample)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        doc = doc_of(sample, PENDING_GRID)
        assert doc["args"] == {"lr": 0.02, "model": "vit_s", "seed": 2}
        assert doc["metadata"] == {"tags": ["v1"], "note": "edited in the tui"}
        assert doc["gen"] == 1


async def test_delete_leaves_a_tombstone(sample: FsQueue) -> None:
    app = make_app(sample, state="failed")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")  # mark all shown
        await pilot.press("d", "y")
        await settle(pilot)
        assert sample.names("failed") == []
        assert len(sample.names("deleted")) == 5  # the sample had one already
        assert table(app).row_count == 0


async def test_an_action_that_loses_a_race_says_so(sample: FsQueue) -> None:
    from labtasker.fsqueue import tasks

    app = make_app(sample)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tasks.delete(sample, PENDING_GRID)  # another process, between the screen and the key
        await pilot.press("c", "y")
        await settle(pilot)
        assert PENDING_GRID not in states_of(sample)
        (toast,) = [n for n in app._notifications]
        assert toast.message.startswith("cancelled 0 of 1 task; " + PENDING_GRID + ": no task with id")


async def test_read_only_shows_no_actions_and_writes_nothing(sample: FsQueue) -> None:
    from labtasker.tui.readonly import ReadOnlyQueue

    before = sorted(p.relative_to(sample.path) for p in sample.path.rglob("*"))
    app = make_app(ReadOnlyQueue(sample.path, node="viewer"), read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key in ("c", "r", "d", "p", "e"):
            await pilot.press(key)
        await settle(pilot)
        assert len(app.screen_stack) == 1  # no dialog opened
        enabled = {b.action for _, b, on, _ in app.active_bindings.values() if on}
        assert "quit" in enabled and not enabled & {"cancel", "requeue", "delete", "priority", "edit"}
        assert "read-only" in str(app.query_one("#status").render())
    assert sorted(p.relative_to(sample.path) for p in sample.path.rglob("*")) == before


async def test_help_lists_every_key(sample: FsQueue) -> None:
    app = make_app(sample)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        text = str(app.screen.query_one("#help-text").render())
        for word in ("quit", "cancel", "re-queue", "priority", "edit", "delete", "mark", "sort", "filter"):
            assert word in text
        await pilot.press("escape")
        assert len(app.screen_stack) == 1
        await pilot.press("q")
    assert app.return_code == 0
