"""Many hosts, one queue folder: real processes with their own node ids claim from one directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from labtasker.fsqueue import layout, tasks
from labtasker.fsqueue.store import FsQueue
from labtasker.replicas import reconcile
from labtasker.replicas.fsck import fsck
from tests.sync.console import environment

HOSTS = ("host-a", "host-b", "host-c")


def test_hosts_with_their_own_node_ids_share_one_folder_and_run_each_task_once(tmp_path: Path) -> None:
    shared = tmp_path / "nfs" / "sweep"
    queue = FsQueue.create(shared, "sweep", node="host-a")
    ids = set(tasks.submit_many(queue, [{"args": {"i": i}} for i in range(40)]))
    env = environment(tmp_path)
    procs = []
    for host in HOSTS:
        home = tmp_path / host
        home.mkdir()
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "labtasker", "loop", "--", sys.executable, "-c", "print('%(i)')"],
                cwd=home,
                env={**env, "LABTASKER_QUEUE_DIR": str(shared), "LABTASKER_NODE_ID": host},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    printed = [line for out in outputs for line in out.splitlines() if line.strip().isdigit()]
    assert sorted(int(x) for x in printed) == list(range(40)), "every task ran exactly once"
    done = queue.names("done")
    assert {layout.task_id_of("done", n) for n in done} == ids and len(done) == 40
    assert {n.rsplit("--", 1)[1][: -len(".yaml")] for n in done} <= set(HOSTS)
    assert os.listdir(shared / "attempts") == [] and os.listdir(shared / "running") == []
    assert not reconcile.reconcile(queue).changed
    assert fsck(queue).clean
