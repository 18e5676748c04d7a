"""``@labtasker.loop()`` and ``Required``.

The decorated function declares the args it needs as parameters whose default
is ``Required()`` (or ``Annotated[T, Required(...)]``); the loop takes only
tasks whose args have exactly those keys ("no more, no less"), casts values to
the annotated type, and calls the function once per task.
"""

from __future__ import annotations

import functools
import inspect
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labtasker import run_context
from labtasker.worker import required as req

if TYPE_CHECKING:  # the loop machinery is imported when a loop runs, not with labtasker
    from labtasker.worker import runner


class Required:
    """Marks a parameter as filled from the task's args (``alias`` names another key)."""

    def __init__(self, alias: str | None = None, resolver: Callable[[Any], Any] | None = None) -> None:
        self.alias = alias
        self.resolver = resolver

    def __repr__(self) -> str:
        return f"Required(alias={self.alias!r}, resolver={self.resolver!r})"


class _Param:
    def __init__(self, name: str, key: str, annotation: Any, resolver: Callable[[Any], Any] | None) -> None:
        self.name, self.key, self.annotation, self.resolver = name, key, annotation, resolver

    def value(self, args: dict[str, Any]) -> Any:
        raw: Any = args
        for part in self.key.split("."):  # alias="a.b.c" reaches args["a"]["b"]["c"]
            raw = raw[part]
        if self.resolver is not None:
            return self.resolver(raw)
        return _cast(raw, self.annotation)


def params_of(fn: Callable[..., Any]) -> list[_Param]:
    """The Required parameters of a function, in order."""
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception:  # unresolvable forward references: fall back to raw annotations
        hints = {}
    out = []
    for name, p in inspect.signature(fn).parameters.items():
        annotation = hints.get(name, p.annotation)
        if isinstance(annotation, str) and "Required(" in annotation:
            raise TypeError(
                f"cannot evaluate the annotation of {name!r} ({annotation}): import what it names "
                "at module level, or use the form `param=Required(...)`"
            )
        marker, base = _marker(annotation)
        if isinstance(p.default, Required):
            marker = p.default
        if marker is None:
            continue
        out.append(_Param(name, marker.alias or name, base, marker.resolver))
    return out


def _marker(annotation: Any) -> tuple[Required | None, Any]:
    if typing.get_origin(annotation) is typing.Annotated:
        base, *extras = typing.get_args(annotation)
        for extra in extras:
            if isinstance(extra, Required):
                return extra, base
        return None, base
    return None, annotation


def _cast(value: Any, annotation: Any) -> Any:
    """Cast to a plain annotated type (int, float, str, bool); leave others alone."""
    if annotation in (int, float, str) and not isinstance(value, annotation):
        if annotation is int and isinstance(value, float) and not value.is_integer():
            raise TypeError(f"cannot cast {value!r} to int without losing its fraction")
        return annotation(value)
    if annotation is bool and not isinstance(value, bool):
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        return bool(value)
    return value


def loop(
    required_fields: list[str] | Callable[..., Any] | None = None,
    extra_filter: str | dict[str, Any] | None = None,
    pass_args_dict: bool = False,
    eta_max: str | float | None = None,
    heartbeat_timeout: float | None = None,
    worker_id: str | None = None,
    create_worker_kwargs: dict[str, Any] | None = None,
    max_tasks: int | None = None,
    wait: bool = False,
    cmd: str | list[str] | None = None,
    quiet: bool = False,
    exit_on_crash: bool = True,
    grace: str | float | None = None,
    count_interrupts: bool = False,
    retry_backoff: str | float | None = None,
) -> Any:
    """Decorate a function to run it on every matching pending task, then return.

    With ``wait=True`` the loop waits for new tasks instead of returning. It
    reports on stderr (``quiet=True`` or ``LABTASKER_QUIET=1`` silences it).
    A loop stopped by a signal raises ``LoopStopped`` (exit 128 + the signal);
    one whose worker was marked crashed too (exit 1) unless ``exit_on_crash=False``,
    which returns the tally instead. ``cmd`` is accepted for scripts of the
    original and not used.
    """
    if callable(required_fields):  # used bare: @labtasker.worker.decorator
        return loop()(required_fields)

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        params = params_of(fn)
        # required_fields and the Required() parameters together are the args a task must have;
        # "*" among them, or none at all, puts no limit on other keys.
        fields = list(dict.fromkeys([*(required_fields or []), *(p.key for p in params)]))
        any_args = not fields or "*" in fields
        tree = req.build_tree(f for f in fields if f != "*")

        @functools.wraps(fn)
        def wrapper(*a: Any, **kw: Any) -> runner.Tally:
            from labtasker import api
            from labtasker.worker.loop_report import Reporter, why_nothing_ran

            _arguments(
                fn, params, None, pass_args_dict, a, kw
            )  # a call that cannot bind fails now, not per task

            def job(run: runner.Run) -> None:
                _call(fn, params, run, pass_args_dict, a, kw)

            report = Reporter(quiet=quiet)
            with report.warnings_as_lines():
                tally = api.run_loop(
                    job,
                    tree,
                    allow_extra=pass_args_dict or any_args,
                    extra_filter=extra_filter,
                    eta_max=eta_max,
                    heartbeat_timeout=heartbeat_timeout,
                    worker_id=worker_id,
                    create_worker_kwargs=create_worker_kwargs,
                    max_tasks=max_tasks,
                    wait=wait,
                    report=report,
                    grace=grace,
                    count_interrupts=count_interrupts,
                    retry_backoff=retry_backoff,
                )
            if tally.stopped_by:
                report.stopped(tally, tally.stopped_by, tally.interrupted_task)
                raise LoopStopped(tally, tally.exit_code)
            report.finished(tally)
            if tally.suspended:
                report.line(tally.crashed, always=True)  # a user's decision, not a failure
            elif tally.crashed:
                report.line(f"error: {tally.crashed}", always=True)
                if exit_on_crash:
                    raise LoopStopped(tally, 1)
            elif tally.total == 0:
                queue = api.context().queue
                report.line(why_nothing_ran(queue, tree, fields, extra_filter, pass_args_dict or any_args)[0])
            return tally

        return wrapper

    return decorate


class LoopStopped(SystemExit):
    """A loop ended early: by SIGINT/SIGTERM/SIGHUP (code 128 + the signal) or a crashed worker (1).

    A ``SystemExit``: uncaught, the script exits with that code and no traceback
    (the loop already said why on stderr). ``tally`` is what the loop did.
    """

    def __init__(self, tally: runner.Tally, code: int) -> None:
        super().__init__(code)
        self.tally = tally


def _call(
    fn: Callable[..., Any],
    params: list[_Param],
    run: runner.Run,
    pass_args_dict: bool,
    a: tuple[Any, ...],
    kw: dict[str, Any],
) -> None:
    call_args, call_kw = _arguments(fn, params, run.task.args, pass_args_dict, a, kw)
    with run_context.running(run), _Tee(run.log_dir):
        fn(*call_args, **call_kw)


_P = inspect.Parameter


@functools.lru_cache(maxsize=64)
def _parameters(fn: Callable[..., Any]) -> list[inspect.Parameter]:
    """``fn``'s parameters, worked out once per function rather than once per task."""
    return list(inspect.signature(fn).parameters.values())


def _arguments(
    fn: Callable[..., Any],
    params: list[_Param],
    args: dict[str, Any] | None,
    pass_args_dict: bool,
    a: tuple[Any, ...],
    kw: dict[str, Any],
) -> tuple[list[Any], dict[str, Any]]:
    """The call of ``fn`` for one task: Required parameters from the task's args (``args``;
    None: placeholders, to check the call's shape), the caller's own arguments for the rest.

    The caller's positional arguments go to the parameters that are not Required, in order.
    """
    required = {p.name: p for p in params}

    def value(name: str) -> Any:
        return None if args is None else required[name].value(args)

    for name in kw:
        if name in required:
            raise TypeError(
                f"{fn.__name__}(): {name!r} is filled from the task's args; leave it out of the call"
            )
    signature = _parameters(fn)
    leading = [dict(args or {})] if pass_args_dict else []
    if pass_args_dict:
        signature = signature[1:]  # the first parameter takes the args dict
    positional: list[Any] = []
    call_kw = dict(kw)
    spare = list(a)
    by_position = True  # until a parameter must be left to its default or to a keyword
    for p in signature:
        if p.kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD):
            if p.name in required:
                given: Any = value(p.name)
            elif spare:
                given = spare.pop(0)
            elif p.name in call_kw:
                given = call_kw.pop(p.name)
            elif p.default is not _P.empty:
                by_position = False
                continue
            else:
                raise TypeError(f"{fn.__name__}() missing argument {p.name!r}")
            if by_position:
                positional.append(given)
            elif p.kind is _P.POSITIONAL_ONLY:
                raise TypeError(f"{fn.__name__}(): positional-only {p.name!r} follows a defaulted parameter")
            else:
                call_kw[p.name] = given
        elif p.kind is _P.KEYWORD_ONLY and p.name in required:
            call_kw[p.name] = value(p.name)
    if spare and not any(p.kind is _P.VAR_POSITIONAL for p in signature):
        raise TypeError(f"{fn.__name__}() got {len(spare)} positional argument(s) too many")
    if spare and not by_position:
        raise TypeError(f"{fn.__name__}(): extra positional arguments need every earlier parameter given")
    return [*leading, *positional, *spare], call_kw


class _Tee:
    """Copy what the function prints to the run's ``run.log`` while still showing it.

    The log (and its folder) is made at the first write: a run that prints nothing costs no file.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.file: Any = None

    def __enter__(self) -> _Tee:
        self.saved = sys.stdout, sys.stderr
        sys.stdout = _Both(sys.stdout, self)
        sys.stderr = _Both(sys.stderr, self)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.stdout, sys.stderr = self.saved
        if self.file is not None:
            self.file.close()

    def write(self, text: str) -> None:
        if self.file is None:
            from labtasker.worker import run_logs

            self.file = run_logs.open_log(self.folder)  # closed in __exit__
        self.file.write(text)

    def flush(self) -> None:
        if self.file is not None:
            self.file.flush()


class _Both:
    def __init__(self, stream: Any, file: Any) -> None:
        self.stream, self.file = stream, file

    def write(self, text: str) -> int:
        self.file.write(text)
        return int(self.stream.write(text))

    def flush(self) -> None:
        self.file.flush()
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)
