"""`labtasker task update --editor` and `labtasker config`: edit, check, apply (or loop on errors)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from labtasker import api, config
from labtasker.cli import output
from tests.cli.conftest import Lt

# An "editor" that applies the Python replacements listed in $EDITS (one per run, in order).
EDITOR = """
import os, sys
from pathlib import Path
edits = Path(os.environ["EDITS"])
steps = edits.read_text().split("\\n===\\n")
old, new = steps[0].split("\\n->\\n")
path = Path(sys.argv[1])
text = path.read_text()
Path(os.environ["EDITS"] + ".seen").write_text(text)
path.write_text(text.replace(old, new) if old else new)
edits.write_text("\\n===\\n".join(steps[1:]))
"""


@pytest.fixture
def edits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "editor.py"
    script.write_text(EDITOR)
    path = tmp_path / "edits.txt"
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITS", str(path))
    return path


@pytest.mark.usefixtures("project")
def test_editor_applies_changes_and_ignores_read_only_fields(lt: Lt, edits: Path) -> None:
    task_id = api.submit_task(args={"lr": 0.1, "model": "vit"}, metadata={"tags": ["v1"]}).task_id
    edits.write_text("    lr: 0.1\n->\n    lr: 0.5\n    seed: 1\n===\n")
    ran = lt("task", "update", "--id", task_id, "--editor")
    assert ran.code == 0, ran.err
    task = api.get_task(task_id)
    assert task.args == {"lr": 0.5, "model": "vit", "seed": 1}
    seen = Path(str(edits) + ".seen").read_text()
    assert "# read-only:" in seen and f"- task_id: {task_id}" in seen


@pytest.mark.usefixtures("project")
def test_editor_warns_about_read_only_changes(lt: Lt, edits: Path) -> None:
    task_id = api.submit_task(args={"lr": 0.1}).task_id
    edits.write_text("  retries: 0\n->\n  retries: 9\n")
    ran = lt("task", "update", "--id", task_id, "--editor")
    assert ran.code == 0
    assert "retries is read-only" in ran.err
    assert api.get_task(task_id).retries == 0


@pytest.mark.usefixtures("project")
def test_editor_with_reset_pending_requeues_every_selected_task(lt: Lt, edits: Path) -> None:
    ids = [api.submit_task(args={"i": i}).task_id for i in range(2)]
    api.update_tasks([api.TaskUpdateRequest(task_id=i, status="cancelled") for i in ids])
    edits.write_text("    i: 0\n->\n    i: 10\n")
    ran = lt("task", "update", "-s", "cancelled", "--editor", "--reset-pending")
    assert ran.code == 0, ran.err
    assert [(api.get_task(i).status, api.get_task(i).args["i"]) for i in ids] == [
        ("pending", 10),
        ("pending", 1),
    ]
    assert "status" not in Path(str(edits) + ".seen").read_text().split("# read-only:")[0]


@pytest.mark.usefixtures("project")
def test_invalid_yaml_off_a_terminal_changes_nothing(lt: Lt, edits: Path) -> None:
    task_id = api.submit_task(args={"lr": 0.1}).task_id
    edits.write_text("    lr: 0.1\n->\n    lr: [unclosed\n")
    ran = lt("task", "update", "--id", task_id, "--editor")
    assert ran.code == 2 and "not valid YAML" in ran.err
    assert api.get_task(task_id).args == {"lr": 0.1}


@pytest.mark.usefixtures("project")
def test_editor_loops_on_errors_when_asked_to(lt: Lt, edits: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    task_id = api.submit_task(args={"lr": 0.1}).task_id
    monkeypatch.setattr(output, "can_prompt", lambda: True)
    edits.write_text("    lr: 0.1\n->\n    lr: [unclosed\n===\n    lr: [unclosed\n->\n    lr: 0.2\n")
    ran = lt("task", "update", "--id", task_id, "--editor", stdin="y\n")
    assert ran.code == 0, ran.err
    assert "not valid YAML" in ran.err and "Edit again?" in ran.err
    assert api.get_task(task_id).args == {"lr": 0.2}


@pytest.mark.usefixtures("project")
def test_editor_refuses_reordered_or_removed_tasks(lt: Lt, edits: Path) -> None:
    ids = [api.submit_task(args={"i": i}).task_id for i in range(2)]
    edits.write_text(f"{ids[0]}\n->\nsomething-else\n")
    ran = lt("task", "update", "--editor", stdin="\n".join(ids))
    assert ran.code == 2 and "do not change task ids" in ran.err


def test_config_edit_is_checked_before_saving(
    lt: Lt, edits: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = project / ".labtasker" / "config.toml"
    before = cfg.read_text()
    edits.write_text('queue_name = "default"\n->\nqueue_name = "bad name!"\n')
    ran = lt("config")
    assert ran.code == 2 and "queue_name" in ran.err
    assert cfg.read_text() == before
    monkeypatch.setattr(output, "can_prompt", lambda: True)
    edits.write_text(
        'queue_name = "default"\n->\nqueue_name = [\n===\nqueue_name = [\n->\nqueue_name = "sweep"\n'
    )
    ran = lt("config", stdin="y\n")
    assert ran.code == 0, ran.err
    assert config.load(project / ".labtasker").queue_name == "sweep"
    assert lt("config", "--path").out.strip() == str(cfg)
    assert 'queue_name = "sweep"' in lt("config", "--show").out
