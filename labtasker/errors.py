"""The whole exception hierarchy of labtasker.

Every error a user can cause derives from ``LabtaskerError`` and also from the
closest builtin, so ``except ValueError`` keeps working for callers that do not
know about labtasker. The CLI turns these into one line and an exit code.
"""

from __future__ import annotations


class LabtaskerError(Exception):
    """Base of every error labtasker raises on purpose."""

    exit_code = 1


class UsageError(LabtaskerError, ValueError):
    """Bad input from the user: a flag, a value, a key, an expression."""

    exit_code = 2


class FilterError(UsageError):
    """A filter or sort expression that cannot be compiled."""


class ConfigError(UsageError):
    """A config file or queue directory that is missing or invalid."""


class QueueNotFound(LabtaskerError, FileNotFoundError):
    """The queue directory does not exist."""


class QueueExists(LabtaskerError, FileExistsError):
    """A queue of that name already exists."""


class TaskNotFound(LabtaskerError, KeyError):
    """No task with that id in any state directory."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "task not found"


class WorkerNotFound(LabtaskerError, KeyError):
    """No worker with that id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "worker not found"


class InvalidTransition(LabtaskerError, ValueError):
    """A status change the task state machine does not allow."""


class LabtaskerRuntimeError(LabtaskerError, RuntimeError):
    """Something that went wrong while running (the original's name, kept for scripts that catch it)."""


class LostRace(LabtaskerRuntimeError):
    """Another process changed the task first; the caller's change was not made."""


class TaskBusy(LostRace):
    """The task is in another process's hand for longer than we waited; it exists, try again."""

    exit_code = 75  # EX_TEMPFAIL: worth retrying


class LeaseLost(LabtaskerRuntimeError):
    """This worker no longer holds the task (cancelled, reclaimed or deleted)."""


class WorkerCrashed(LabtaskerRuntimeError):
    """The worker failed too many times (or was suspended) and takes no tasks."""


# The original's names for bad input, kept for scripts that catch them.
LabtaskerValueError = UsageError
LabtaskerTypeError = UsageError


class WorkerBusy(LostRace):
    """The worker's file is in another process's hand for longer than we waited; try again."""

    exit_code = 75  # EX_TEMPFAIL: worth retrying
