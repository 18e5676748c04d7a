"""Shell completion for bash, zsh and fish, for ``labtasker`` and ``lt``.

``labtasker completion SHELL`` prints a small script; on each TAB the shell
runs ``labtasker __complete SHELL -- WORDS...`` and offers the lines it prints.
Candidates come from the command tree itself (commands, switches, the values a
switch takes) and from the queue (task and worker ids), so they never drift
from what the commands accept.
"""

from __future__ import annotations

import sys
from typing import Any

from plumbum import cli

from labtasker.cli.base import Command
from labtasker.errors import UsageError

SHELLS = ("bash", "zsh", "fish")
MAX_IDS = 500  # ids offered at most (a prefix narrows them)

# What the positional arguments of a command are (the last kind repeats when it ends with *).
POSITIONAL = {
    "task log": ["task_id"],
    "task history": ["task_id"],
    "task delete": ["task_id*"],
    "worker report": ["worker_id", "worker_status"],
    "worker delete": ["worker_id*"],
    "completion": ["shell"],
}

BASH = r"""# labtasker completion for bash: source it (e.g. from ~/.bashrc).
_labtasker_complete() {
    local IFS=$'\n'
    COMPREPLY=($("${COMP_WORDS[0]}" __complete bash -- "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -F _labtasker_complete labtasker lt
"""

ZSH = r"""#compdef labtasker lt
# labtasker completion for zsh: put it in a folder of $fpath as _labtasker, or source it
# after compinit.
_labtasker() {
    local -a found
    found=("${(@f)$(${words[1]} __complete zsh -- "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    found=(${found:#})
    if (( ${#found} )); then
        _describe -t values 'labtasker' found
    else
        _files
    fi
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _labtasker "$@"
else
    compdef _labtasker labtasker lt
fi
"""

FISH = r"""# labtasker completion for fish: save as ~/.config/fish/completions/labtasker.fish (and lt.fish).
function __labtasker_complete
    set -l words (commandline -opc) (commandline -ct)
    $words[1] __complete fish -- $words[2..-1] 2>/dev/null
end
complete -c labtasker -f -a '(__labtasker_complete)'
complete -c lt -f -a '(__labtasker_complete)'
"""

SCRIPTS = {"bash": BASH, "zsh": ZSH, "fish": FISH}


class Completion(Command):
    """Print the shell completion script for bash, zsh or fish (for `labtasker` and `lt`)"""

    DESCRIPTION_MORE = """
    Commands, sub-commands, switches, the values a switch takes (statuses,
    formats) and task and worker ids complete.
    """

    def main(self, shell: str) -> int:
        if shell not in SHELLS:
            raise UsageError(f"unknown shell {shell!r}: choose bash, zsh or fish")
        sys.stdout.write(SCRIPTS[shell])
        return 0


class Complete(Command):
    """(used by the completion scripts) print the candidates for the words typed so far"""

    def main(self, shell: str, *words: str) -> int:
        from labtasker.cli.main import Labtasker

        for value, about in candidates(Labtasker, list(words) or [""], describe=shell != "bash"):
            if shell == "fish":
                print(f"{value}\t{about}" if about else value)
            elif shell == "zsh":
                escaped = value.replace("\\", "\\\\").replace(":", "\\:")
                print(f"{escaped}:{about}" if about else escaped)
            else:
                print(value)
        return 0


def candidates(root: type[cli.Application], words: list[str], describe: bool = True) -> list[tuple[str, str]]:
    """What may come in place of ``words[-1]`` (typed so far) after ``words[:-1]``; ``describe``
    adds each command's description (bash shows none, and loading every command costs time)."""
    *before, partial = words
    app = root("labtasker")
    path: list[str] = []
    taking: Any = None  # the switch whose value comes next
    positional = 0
    for word in before:
        if taking is not None:
            taking = None
        elif word == "--":
            return []  # the task's args or the command to run: the shell's own completion
        elif word.startswith("-") and len(word) > 1:
            info = _switch(app, word)
            if info is not None and info.argtype is not None and "=" not in word:
                taking = info
        elif word in _commands(app):
            app = _commands(app)[word].get()(f"{app.PROGNAME} {word}")
            path.append(word)
        else:
            positional += 1
    if taking is not None:
        return _filter(_switch_values(" ".join(path), taking), partial)
    if partial.startswith("-"):
        return _filter(_switches(app), partial)
    found = [(name, _about(sub) if describe else "") for name, sub in sorted(_commands(app).items())]
    if not found:
        found = _positional_values(" ".join(path), positional)
    return _filter(found, partial)


def _commands(app: Any) -> dict[str, Any]:
    return {n: s for n, s in app._subcommands.items() if not n.startswith("_")}


def _switch(app: Any, word: str) -> Any:
    name = word.split("=", 1)[0].lstrip("-")
    return app._switches_by_name.get(name)


def _switches(app: Any) -> list[tuple[str, str]]:
    out = []
    for name, info in sorted(app._switches_by_name.items()):
        if name in ("help-all", "completions"):
            continue
        flag = f"-{name}" if len(name) == 1 else f"--{name}"
        out.append((flag, " ".join(str(info.help or "").split())))
    return out


def _about(sub: Any) -> str:
    try:
        cls = sub.get()
    except Exception:  # a command provided by a module that fails to import
        return ""
    return " ".join(str(cls.DESCRIPTION or cls.__doc__ or "").split())


def _switch_values(path: str, info: Any) -> list[tuple[str, str]]:
    if isinstance(info.argtype, cli.Set):
        return [(str(v), "") for v in info.argtype.values if isinstance(v, str)]
    names = set(info.names)
    if str(info.argname) == "STATUS":
        return _statuses()
    if "task-id" in names or ("id" in names and path.startswith("task")):
        return _task_ids()
    if "worker-id" in names or ("id" in names and path.startswith("worker")):
        return _worker_ids()
    return []


def _positional_values(path: str, index: int) -> list[tuple[str, str]]:
    kinds = POSITIONAL.get(path)
    if not kinds:
        return []
    kind = kinds[min(index, len(kinds) - 1)]
    if index >= len(kinds) and not kind.endswith("*"):
        return []
    kind = kind.rstrip("*")
    if kind == "task_id":
        return _task_ids()
    if kind == "worker_id":
        return _worker_ids()
    if kind == "worker_status":
        from labtasker.fsqueue.workers import WORKER_STATUSES

        return [(s, "") for s in WORKER_STATUSES if s != "exited"]
    return [(s, "") for s in SHELLS]


def _statuses() -> list[tuple[str, str]]:
    from labtasker.fsqueue.layout import TaskStatus

    return [(s.value, "") for s in TaskStatus]


def _task_ids() -> list[tuple[str, str]]:
    """Task ids of the queue in use, newest first, each with its status (from file names alone)."""
    from labtasker.fsqueue import layout

    queue = _queue()
    if queue is None:
        return []
    found = []
    for status in layout.TaskStatus:
        try:
            names = queue.names(status.dirname)
        except OSError:
            continue
        found += [(layout.task_id_of(status.dirname, n), status.value) for n in names]
    found.sort(reverse=True)
    return found[: MAX_IDS * 4]


def _worker_ids() -> list[tuple[str, str]]:
    queue = _queue()
    if queue is None:
        return []
    try:
        names = queue.names("workers")
    except OSError:
        return []
    return [(n.rsplit(".yaml", 1)[0], "") for n in sorted(names)]


def _queue() -> Any:
    from labtasker import api

    try:
        queue = api.context().queue
    except Exception:  # no project here, or a broken config: nothing to offer, no error on TAB
        return None
    return queue if queue.exists() else None


def _filter(found: list[tuple[str, str]], partial: str) -> list[tuple[str, str]]:
    out = [(v, a) for v, a in found if v.startswith(partial)]
    return out[:MAX_IDS]
