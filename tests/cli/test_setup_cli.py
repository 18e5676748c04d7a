"""`labtasker init`, `labtasker queue ...` and `labtasker worker ...`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labtasker import api, config
from labtasker.cli import output
from tests.cli.conftest import Lt


@pytest.fixture
def empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "exp"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def test_init_off_a_terminal_uses_flags_and_defaults(lt: Lt, empty: Path) -> None:
    ran = lt("init")
    assert ran.code == 0 and "created" in ran.out
    cfg = config.load(empty / ".labtasker")
    assert cfg.queue_name == "default" and (cfg.resolved_queue_dir() / "queue.yaml").is_file()
    assert (empty / ".labtasker" / ".gitignore").is_file() and (empty / ".labtasker" / "node_id").is_file()


def test_init_with_flags(lt: Lt, empty: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared" / "sweep"
    ran = lt(
        "init",
        "--yes",
        "--queue-name",
        "sweep",
        "--queue-dir",
        str(shared),
        "--heartbeat-interval",
        "10",
        "--heartbeat-timeout",
        "45",
    )
    assert ran.code == 0, ran.err
    cfg = config.load(empty / ".labtasker")
    assert (cfg.queue_name, cfg.resolved_queue_dir()) == ("sweep", shared)
    assert cfg.loop == {"heartbeat_interval": 10.0, "heartbeat_timeout": 45.0}
    assert (shared / "pending").is_dir()


def test_init_refuses_an_existing_root_unless_forced(lt: Lt, empty: Path) -> None:
    assert lt("init").code == 0
    task_id = api.submit_task(args={"a": 1}).task_id
    ran = lt("init", "--queue-name", "other")
    assert ran.code == 1 and "already exists" in ran.err and "--force" in ran.err
    assert config.load(empty / ".labtasker").queue_name == "default"
    assert lt("init", "--force").code == 0
    assert api.get_task(task_id).args == {"a": 1}  # the queue and its tasks are kept


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--queue-name", "bad name"], "queue_name"),
        (["--heartbeat-interval", "0"], "positive"),
    ],
)
def test_init_refuses_bad_settings_and_writes_nothing(
    lt: Lt, empty: Path, argv: list[str], message: str
) -> None:
    ran = lt("init", "--yes", *argv)
    assert ran.code == 2 and message in ran.err
    assert not (empty / ".labtasker").exists()


def test_init_asks_on_a_terminal(lt: Lt, empty: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output, "can_prompt", lambda: True)
    # queue name: a bad one first (asked again), then "sweep"; default dir; interval 10; default timeout
    ran = lt("init", stdin="bad name\nsweep\n\n10\n\n")
    assert ran.code == 0, ran.err
    assert "Queue name" in ran.err and "letters, digits" in ran.err
    cfg = config.load(empty / ".labtasker")
    assert cfg.queue_name == "sweep" and cfg.loop == {"heartbeat_interval": 10.0}


def test_queue_commands(lt: Lt, empty: Path) -> None:
    ran = lt("queue", "create-from-config")
    assert ran.code == 0 and "created queue 'default'" in ran.out
    ran = lt("queue", "create-from-config")
    assert ran.code == 0 and "already exists" in ran.out and "nothing to do" in ran.out
    path = lt("queue", "path").out.strip()
    assert Path(path) == empty / ".labtasker" / "queues" / "default"
    assert lt("queue", "create").code == 1  # the configured queue exists: `create` says so
    api.submit_task(args={"a": 1})
    info = json.loads(lt("queue", "get", "--fmt", "jsonl").out)
    assert info["queue_name"] == "default" and info["counts"]["pending"] == 1
    assert "queue_name: default" in lt("queue", "get").out
    assert lt("queue", "update", "--metadata", '{"owner": "me"}').code == 0
    assert api.get_queue().metadata == {"owner": "me"}
    assert lt("queue", "update").code == 0  # nothing to change: a note on stderr, as in the original
    assert lt("queue", "create", "scratch").code == 0
    table = lt("queue", "ls").lines
    assert table[0].split()[:2] == ["NAME", "PENDING"] and len(table) == 3
    ran = lt("queue", "delete", "scratch")
    assert ran.code == 2 and "add -y" in ran.err
    assert lt("queue", "delete", "-y", "scratch").code == 0
    assert len(lt("queue", "ls").lines) == 2
    assert lt("queue", "get", "scratch").code == 1


def test_worker_commands(lt: Lt, project: Path) -> None:
    worker_id = lt("worker", "create", "--name", "gpu0", "--max-retries", "2").out.strip()
    assert lt("worker", "ls", "-q").lines == [worker_id]
    rows = lt("worker", "ls").lines
    assert rows[0].split()[:3] == ["WORKER_ID", "NAME", "STATUS"] and "gpu0" in rows[1]
    assert json.loads(lt("worker", "ls", "--fmt", "jsonl").out)["max_retries"] == 2
    assert lt("worker", "report", worker_id, "suspended").code == 0
    assert lt("worker", "ls", "-s", "suspended", "-q").lines == [worker_id]
    assert lt("worker", "report", worker_id, "asleep").code == 2
    assert lt("worker", "report", "no-such", "active").code == 1
    assert lt("worker", "delete", worker_id).code == 2  # not confirmed
    assert lt("worker", "delete", "-y", stdin=worker_id + "\n").code == 0
    assert lt("worker", "ls", "-q").out == ""


def test_a_crashed_worker_id_is_refused_until_reactivated(lt: Lt, project: Path) -> None:
    worker_id = lt("worker", "create").out.strip()
    lt("worker", "report", worker_id, "crashed")
    api.submit_task(args={"x": 1})
    ran = lt("loop", "--worker-id", worker_id, "--", "true", "%(x)")
    assert ran.code == 1 and "marked crashed" in ran.err and f"worker report {worker_id} active" in ran.err
    lt("worker", "report", worker_id, "active")
    assert lt("loop", "--worker-id", worker_id, "--", "true", "%(x)").code == 0


@pytest.mark.usefixtures("project")
def test_long_output_is_paged_on_a_terminal(lt: Lt, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for i in range(8):
        api.submit_task(args={"i": i})
    paged = tmp_path / "paged.txt"
    monkeypatch.setattr(output, "is_tty", lambda stream: True)
    monkeypatch.setenv("PAGER", f"sh -c 'cat > {paged}'")
    monkeypatch.setenv("LINES", "5")
    ran = lt("task", "ls", "-q")
    assert ran.out.count("\n") == 8 and not paged.exists()  # ids for pipes are never paged
    ran = lt("task", "ls")
    assert ran.out == "" and paged.read_text().count("\n") == 9
    ran = lt("task", "ls", "--no-pager")
    assert ran.out.count("\n") == 9
