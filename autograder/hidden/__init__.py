"""The hidden checks: every step's graded checks, never shipped to learners.

``HIDDEN`` holds the checks; `load_hidden_checks` imports one module per step (in course
order) so that each registers its checks with ``@HIDDEN.check(step_id, title, weight=...)``.
A check is ``check(subject, rng)``: it sees learner code only through the `selfcheck.Subject`
interface and draws all its randomness from ``rng``, so the same function runs in-process
(``LocalSubject``: project tests, notebooks) and in the grader's trusted parent
(``RemoteSubject``, learner code in a sandboxed child).

Never import this package in a process that runs untrusted learner code.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from selfcheck import CheckRegistry
from selfcheck.steps import STEPS

HIDDEN = CheckRegistry()

STEP_MODULES = tuple(step.id for step in STEPS)  # one module per step id, in course order (from course.yml)


def load_hidden_checks(step_ids: Iterable[str] | None = None) -> CheckRegistry:
    """Import each step's check module (once) and return ``HIDDEN``.

    ``step_ids``: the course's steps (the grader passes ``course.steps`` from ``course.yml``);
    by default the generated step table's, for the notebooks and the project's tests.
    """
    for module in STEP_MODULES if step_ids is None else step_ids:
        importlib.import_module(f"{__name__}.{module}")
    return HIDDEN
