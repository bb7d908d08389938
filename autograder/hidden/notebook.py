"""Hidden tests in notebooks: what the hidden blocks of nbgrader test cells call.

A test cell of the source notebooks reads ::

    ### BEGIN HIDDEN TESTS
    from autograder.hidden.notebook import run_hidden, standins_for_public_checks
    standins_for_public_checks()
    ### END HIDDEN TESTS
    from course_notebook import check
    check("tokens", globals(), "example_sentence")
    ### BEGIN HIDDEN TESTS
    run_hidden("tokens", globals(), check=["vocab_random_text"])
    ### END HIDDEN TESTS

nbgrader removes the block from the learner notebooks and puts it back when it autogrades (on
the instructor's machine, where ``autograder`` is installed). `run_hidden` runs the named hidden
checks of ``autograder/hidden`` (the same functions the sandboxed grader runs) in this process,
on the notebook's own definitions (``selfcheck.LocalSubject(step, globals(), "the notebook")``):

- it prints ``✓ hidden test: <title>`` for each check that passes, and raises `HiddenTestFailed` (an
  ``AssertionError``) naming every check that fails, with the check's message; the error shows
  as those lines only, never as a traceback into this file or the cell's hidden source;
- while it checks a step, every API name of the *earlier* steps (course order) is bound in the
  notebook's namespace to the grader's stand-in (`autograder.reference.standin_namespace`) and
  restored afterwards (`earlier_standins`), so a mistake costs points in its own step only, as in
  the sandboxed grader. ``course_notebook.check`` (the public checks) does the same while nbgrader
  autogrades, once `standins_for_public_checks` (the cell's first hidden block) has told it to;
- the checks draw their inputs from a fixed seed (`notebook_seed`: ``NOTEBOOK_SEED``, or the
  environment variable ``ATTENTION_NOTEBOOK_SEED``), so regrading gives the same result; the
  notebook's own random generator is left as it was, warnings are ignored and whatever the
  learner's code prints is swallowed (nbgrader gives 0 to a test cell that writes to stderr).

`run_question` grades a concept question with its hidden key (`autograder.hidden.questions`).

nbgrader runs the learner's code and the hidden tests in one kernel, without a sandbox: use
``python -m autograder grade`` (which also takes notebook submissions) for untrusted code.
"""

from __future__ import annotations

import contextlib
import io
import os
import types
import warnings
from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any

import torch

from selfcheck import LocalSubject, run_checks
from selfcheck.registry import Outcome
from selfcheck.steps import BY_ID, STEPS

NOTEBOOK_SEED = 20_240_531
SEED_VARIABLE = "ATTENTION_NOTEBOOK_SEED"
ORIGIN = "the notebook"
PASS, FAIL = "✓", "✗"
_RED, _RESET = "\x1b[31m", "\x1b[0m"
_MISSING = object()


class HiddenTestFailed(AssertionError):
    """Some hidden checks failed; shown by IPython as the failure lines only (no traceback)."""

    def __init__(self, lines: Sequence[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = list(lines)

    def _render_traceback_(self) -> list[str]:  # IPython's hook for how an exception is shown
        return [f"{_RED}{line}{_RESET}" if line.startswith(FAIL) else line for line in self.lines]


def notebook_seed() -> int:
    """The seed of the hidden checks' inputs: ``ATTENTION_NOTEBOOK_SEED`` or `NOTEBOOK_SEED`."""
    text = os.environ.get(SEED_VARIABLE, "").strip()
    return int(text) if text else NOTEBOOK_SEED


@contextlib.contextmanager
def earlier_standins(step_id: str, namespace: MutableMapping[str, Any]) -> Iterator[None]:
    """Bind every earlier step's API names in ``namespace`` to the grader's stand-ins, then restore.

    Names the namespace did not have are removed again afterwards. A name that belongs to
    ``step_id`` itself or to a later step is never touched.
    """
    from autograder.reference import standin_namespace

    number = BY_ID[step_id].number
    saved: dict[str, Any] = {}
    for step in STEPS[: number - 1]:
        for name, standin in standin_namespace(step.id, step.api).items():
            saved[name] = namespace.get(name, _MISSING)
            namespace[name] = standin
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is _MISSING:
                namespace.pop(name, None)
            else:
                namespace[name] = old


def standins_for_public_checks() -> None:
    """Make ``course_notebook.check`` (the public checks of a test cell) use `earlier_standins` while grading.

    Called from the hidden block at the top of a test cell, so the learner's helper module never
    imports the grader.
    """
    import course_notebook

    course_notebook.use_while_grading(earlier_standins)


@contextlib.contextmanager
def quietly() -> Iterator[None]:
    """Leave the global random generator as it was, ignore warnings, swallow printed output."""
    sink = io.StringIO()
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings(), \
            contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        warnings.simplefilter("ignore")
        yield


def run_hidden(step_id: str, namespace: MutableMapping[str, Any], check: str | Sequence[str] | None = None,
               *, seed: int | None = None) -> None:
    """Run hidden checks of ``step_id`` (all, or those named by ``check``) on ``namespace``.

    Prints ``✓ <title>`` per passing check; raises `HiddenTestFailed` if any fails.
    """
    from autograder.hidden import load_hidden_checks

    if step_id not in BY_ID:
        raise ValueError(f"no step {step_id!r}")
    available = {c.name: c for c in load_hidden_checks().for_step(step_id)}
    if check is None:
        selected = list(available.values())
    else:
        names = [check] if isinstance(check, str) else list(check)
        unknown = [n for n in names if n not in available]
        if unknown:
            raise ValueError(f"step {step_id!r} has no hidden check {', '.join(map(repr, unknown))}; "
                             "regenerate the notebooks with `python -m autograder release`")
        selected = [available[n] for n in names]
    seed = notebook_seed() if seed is None else seed
    with earlier_standins(step_id, namespace):
        forbidden = _forbidden_calls(step_id, namespace, list(available.values()), seed)
        if forbidden:  # as in the sandboxed grader: the whole step scores 0, every test says why
            results = [(hidden, Outcome("failed", forbidden)) for hidden in selected]
        else:
            results = list(run_checks(selected, LocalSubject(step_id, namespace, ORIGIN), seed, around=quietly))
    lines = [f"{PASS} hidden test: {c.title}" for c, outcome in results if outcome.passed]
    failed = [(c, outcome) for c, outcome in results if not outcome.passed]
    for line in lines:
        print(line)
    if failed:
        report = []
        for hidden, outcome in failed:
            report.append(f"{FAIL} hidden test: {hidden.title}")
            report += [f"    {line}" for line in outcome.message.splitlines()]
        raise HiddenTestFailed(report)


def _forbidden_calls(step_id: str, namespace: MutableMapping[str, Any], checks: list, seed: int) -> str:
    """Why a from-scratch step scores 0 here (it calls a forbidden API in any of its checks), or "".

    In-process counterpart of the sandbox's guard (`autograder.sandbox.guard`): every hidden check
    of the step runs under the guard, whatever the cell asked for, so a test cell that does not
    itself reach the forbidden call still scores 0. The grader's own code (checks, oracle,
    stand-ins) is trusted.
    """
    from autograder.course import load_course

    step = next((s for s in load_course(package_dir=None).steps if s.id == step_id), None)
    if step is None or not step.from_scratch:
        return ""
    # the same functions and classes in the namespace: the same verdict (one guarded run per step, not per cell)
    key = (seed, *((name, value) for name, value in namespace.items() if isinstance(value, (types.FunctionType, type))))
    known = _FORBIDDEN_VERDICTS.get(step_id)
    if known is None or known[0] != key:
        _FORBIDDEN_VERDICTS[step_id] = known = (key, _guarded_run(step_id, namespace, checks, seed))
    return known[1]


_FORBIDDEN_VERDICTS: dict[str, tuple[tuple, str]] = {}  # step id -> (the definitions it was run on, verdict)


def _guarded_run(step_id: str, namespace: MutableMapping[str, Any], checks: list, seed: int) -> str:
    import sys

    from autograder import reference
    from autograder.sandbox.guard import code_objects
    from selfcheck.forbidden import ForbiddenGuard

    reference.namespace()  # loads every reference module now, so that all their code is known as the grader's
    grader = [m for name, m in list(sys.modules.items())
              if m is not None and name.split(".")[0] in ("autograder", "selfcheck")]
    guard = ForbiddenGuard(code_objects(grader))
    with guard:
        for _ in run_checks(checks, LocalSubject(step_id, namespace, ORIGIN), seed, around=quietly):
            pass
    used = guard.take()
    if not used:
        return ""
    return (f"your code called {', '.join(used)} while step {step_id!r} was checked; it must be implemented "
            "from scratch, so all its tests score 0")


def run_question(name: str, namespace: MutableMapping[str, Any]) -> None:
    """Grade the concept question ``name``: the notebook's variable ``name`` against the key."""
    from autograder.hidden.questions import QUESTIONS

    question = QUESTIONS[name]
    value = namespace.get(name, _MISSING)
    if value is _MISSING or value is Ellipsis:
        raise HiddenTestFailed([f"{FAIL} {name}: not answered"])
    if not question.is_right(value):
        raise HiddenTestFailed([f"{FAIL} {name}: not the right answer"])
    print(f"{PASS} {name}: right")
