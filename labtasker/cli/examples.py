"""The Examples block of each command's ``--help``, by command path.

Each example is a command line and, optionally, what it does. A command not
listed here may carry its own in an ``EXAMPLES`` class attribute (same shape).
"""

from __future__ import annotations

Example = tuple[str, str]

EXAMPLES: dict[str, list[Example]] = {
    "labtasker": [
        ("labtasker task submit -- --lr=0.01 --model=vit", "queue a task"),
        ("labtasker loop -- python train.py --lr '%(lr)' --model '%(model)'", "run every pending task"),
        ("labtasker task ls -s failed", "see what failed"),
        ("labtasker task log TASK_ID", "read a run's output"),
        ("labtasker completion bash >> ~/.bashrc", "complete commands, switches and task ids"),
    ],
    "labtasker init": [
        ("labtasker init", "asks for the queue name and where it lives"),
        ("labtasker init --yes --queue-name sweep", "no questions (scripts)"),
    ],
    "labtasker config": [
        ("labtasker config", "edit in $EDITOR; an invalid file is never saved"),
        ("labtasker config --show", ""),
    ],
    "labtasker completion": [
        ("labtasker completion bash >> ~/.bashrc", ""),
        ("labtasker completion zsh > ~/.zfunc/_labtasker", "with ~/.zfunc in fpath, before compinit"),
        ("labtasker completion fish > ~/.config/fish/completions/labtasker.fish", ""),
    ],
    "labtasker queue": [("labtasker queue ls", ""), ("labtasker queue get", "")],
    "labtasker queue create": [("labtasker queue create scratch", "")],
    "labtasker queue create-from-config": [("labtasker queue create-from-config", "")],
    "labtasker queue delete": [("labtasker queue delete -y scratch", "")],
    "labtasker queue get": [("labtasker queue get", ""), ("labtasker queue get --fmt jsonl", "")],
    "labtasker queue ls": [("labtasker queue ls", ""), ("labtasker queue ls --fmt csv", "")],
    "labtasker queue path": [("ls $(labtasker queue path)/pending", "")],
    "labtasker queue update": [
        ("labtasker queue update --new-name sweep2", ""),
        ("""labtasker queue update --metadata '{"owner": "me"}'""", ""),
    ],
    "labtasker task": [
        ("labtasker task submit -- --lr=0.01", ""),
        ("labtasker task ls -s failed", ""),
        ("labtasker task log TASK_ID", ""),
    ],
    "labtasker task submit": [
        ("labtasker task submit -- --lr=0.01 --model=vit", "prints the new task's id"),
        ("""labtasker task submit --name grid --priority 10 --metadata '{"tags": ["v1"]}' -- --lr 0.1""", ""),
        ("labtasker task submit --from-file sweep.jsonl", """one {"args": {...}} per line"""),
    ],
    "labtasker task ls": [
        ("labtasker task ls", "a table that fits the terminal"),
        ("labtasker task ls -s failed -c args.lr,error", "only these columns"),
        ("labtasker task ls -f 'args.lr > 0.01' -S summary.acc:desc", ""),
        ("labtasker task ls --fmt csv --limit 10000 > tasks.csv", ""),
        ("labtasker task ls -s failed -q | labtasker task delete -y", "ids for pipes"),
    ],
    "labtasker task count": [("labtasker task count", ""), ("labtasker task count --fmt json", "")],
    "labtasker task log": [
        ("labtasker task log TASK_ID", "the latest run's output"),
        ("labtasker task log -f TASK_ID", "follow a running task"),
        ("labtasker task log --attempt 1 TASK_ID", "the first run"),
        ("labtasker task log --all TASK_ID | less", ""),
    ],
    "labtasker task history": [("labtasker task history TASK_ID", "")],
    "labtasker task update": [
        ("labtasker task update --id TASK_ID -u args.lr=0.02", ""),
        ("labtasker task update -s failed --reset-pending -- retries=0", "run failed tasks again"),
    ],
    "labtasker task delete": [
        ("labtasker task delete TASK_ID", "asks first on a terminal"),
        ("labtasker task ls -s cancelled -q | labtasker task delete -y", ""),
    ],
    "labtasker task reserve": [("labtasker task reserve --help", "")],
    "labtasker worker": [("labtasker worker ls", "")],
    "labtasker worker create": [
        ("labtasker loop --worker-id $(labtasker worker create --name gpu0) -- ./job.sh", "")
    ],
    "labtasker worker ls": [
        ("labtasker worker ls", "state, host, pid, last seen, tasks done and failed"),
        ("labtasker worker ls -s dead -q | labtasker worker delete -y", "forget dead workers"),
    ],
    "labtasker worker report": [
        ("labtasker worker report WORKER_ID active", "let a crashed worker run again")
    ],
    "labtasker worker delete": [("labtasker worker delete -y WORKER_ID", "")],
    "labtasker loop": [
        ("labtasker loop -- python train.py --lr '%(lr)' --model '%(model)'", ""),
        ("labtasker loop --cmd 'python train.py --lr %(lr) > out-%(lr).txt'", "a shell command"),
        ("labtasker loop --script-path job.sh", ""),
        ("labtasker loop -f 'args.model == \"vit\"' --max-tasks 10 -- ./train.sh '%(lr)'", ""),
        ("labtasker loop --gpus 0,1,2,3 -- python train.py --lr '%(lr)'", "one worker per GPU"),
    ],
    "labtasker results": [
        ("labtasker results --sort acc:desc", "the best run first"),
        ("labtasker results --over seed --sort acc:desc --best 3 --fmt markdown", "mean ± std over seeds"),
        ("labtasker results --over seed --plot --x lr --y acc --by model", "a plot in the terminal"),
        ("labtasker results --plot-file acc.png", "a picture for a report (labtasker[plot])"),
    ],
    "labtasker slurm": [
        (
            "labtasker slurm submit --workers 4 --gpus-per-worker 1 --time 4:00:00 -- python train.py --lr '%(lr)'",
            "",
        ),
        ("labtasker slurm status", ""),
    ],
    "labtasker slurm submit": [
        (
            "labtasker slurm submit --workers 4 --gpus-per-worker 1 --time 4:00:00 -- python train.py --lr '%(lr)'",
            "",
        ),
        (
            "labtasker slurm submit --workers auto --max-workers 8 --script-path job.sh",
            "one worker per runnable task",
        ),
        (
            "labtasker slurm submit --workers 2 --dry-run -- ./train.sh '%(lr)'",
            "print the sbatch script only",
        ),
    ],
    "labtasker slurm status": [("labtasker slurm status", ""), ("labtasker slurm status --fmt json", "")],
    "labtasker skill": [("labtasker skill install", ""), ("labtasker skill show", "")],
    "labtasker skill show": [("labtasker skill show | less", "")],
    "labtasker skill install": [
        ("labtasker skill install", ""),
        ("labtasker skill install --path .claude/skills/labtasker", "for one project only"),
    ],
    "labtasker tui": [("labtasker tui", ""), ("labtasker tui --log-dir runs/", "")],
    "labtasker event": [("labtasker event listen", "")],
    "labtasker event listen": [
        ("labtasker event listen", ""),
        ("labtasker event listen --fmt jsonl | head", ""),
    ],
    "labtasker fsck": [("labtasker fsck", ""), ("labtasker fsck --repair", "")],
    "labtasker sync": [("labtasker sync", "")],
    "labtasker reconcile": [("labtasker reconcile", "")],
    "labtasker-server": [("labtasker-server serve", "")],
    "labtasker-server serve": [("labtasker-server serve", "")],
}


def for_command(path: str, own: list[Example] | None = None) -> list[Example]:
    """The examples of a command (``labtasker task ls``; ``lt`` is the same)."""
    if path == "lt" or path.startswith("lt "):
        path = "labtasker" + path[2:]
    return list(own or EXAMPLES.get(path, []))
