"""The public checks: the course's published facts and each step's idea, on small public inputs.

One module per step (``selfcheck/public/<step id>.py``); `common` holds the registry ``PUBLIC``,
the course's running example and the helpers they share. Learners run these with ``pytest`` in
``exercises/``; the notebooks and the grader run them too. Every check is ``check(subject, rng)``
and sees the learner's code only through the `Subject` interface, so it runs unchanged
in-process and in the grader's sandbox. Common mistakes are named with the catalogue the grader
uses, `selfcheck.mistakes`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from ..errors import CheckFailed
from ..registry import run_checks
from ..steps import BY_ID, STEPS
from ..subject import LocalSubject, Subject
from .common import PUBLIC

for _step in STEPS:  # one module per step, registered in course order
    importlib.import_module(f"{__name__}.{_step.id}")

__all__ = ["PUBLIC", "check_step"]


def check_step(step: str, code: Mapping[str, Any] | ModuleType) -> None:
    """Run step ``step``'s public checks on ``code`` (a notebook's ``globals()`` or a module).

    Prints one line per check and raises `CheckFailed` (an ``AssertionError``) naming the
    checks that did not pass, so a notebook test cell fails exactly when pytest would::

        from selfcheck.public import check_step
        check_step("scores", globals())
    """
    if step not in BY_ID:
        raise ValueError(f"unknown step {step!r}; the steps are: {', '.join(BY_ID)}")
    if isinstance(code, ModuleType):
        subject: Subject = LocalSubject.from_module(step, code)
    else:
        subject = LocalSubject(step, code, "the notebook")
    failed = []
    for check, outcome in run_checks(PUBLIC.for_step(step), subject, 0):
        print(f"{'PASS' if outcome.passed else 'FAIL'}  {check.title}")
        if not outcome.passed:
            print("      " + outcome.message.replace("\n", "\n      "))
            failed.append(check.name)
    info = BY_ID[step]
    if failed:
        raise CheckFailed(f"step {info.number} {step}: {len(failed)} of {len(PUBLIC.for_step(step))} public checks "
                          f"did not pass ({', '.join(failed)})")
