"""Checks, their registries, deterministic randomness and the one way to run a check."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Literal

import torch

from .errors import CallFailed, CheckFailed, EarlierStepUnfinished, LearnerError, NotImplementedYet
from .subject import Subject

CheckFunction = Callable[[Subject, torch.Generator], None]
Status = Literal["passed", "failed", "not_implemented", "error"]


@dataclass(frozen=True)
class Check:
    """One check of one step. ``title`` is what the learner reads; ``weight`` its share."""

    step: str
    name: str
    title: str
    function: CheckFunction = field(repr=False)
    weight: float = 1.0


class CheckRegistry:
    """Checks in registration order, grouped by step."""

    def __init__(self) -> None:
        self._checks: dict[str, list[Check]] = {}

    def check(self, step: str, title: str, *, weight: float = 1.0) -> Callable[[CheckFunction], CheckFunction]:
        """Decorator: register ``function`` as a check of ``step``."""

        def register(function: CheckFunction) -> CheckFunction:
            checks = self._checks.setdefault(step, [])
            if any(c.name == function.__name__ for c in checks):
                raise ValueError(f"duplicate check {step}.{function.__name__}")
            checks.append(Check(step, function.__name__, title, function, weight))
            return function

        return register

    def for_step(self, step: str) -> list[Check]:
        return list(self._checks.get(step, []))

    def steps(self) -> list[str]:
        return list(self._checks)

    def all(self) -> list[Check]:
        return [c for checks in self._checks.values() for c in checks]


def check_rng(seed: int, step: str, name: str) -> torch.Generator:
    """A generator for one check, fixed by (seed, step, check name) and independent of order."""
    digest = hashlib.sha256(f"{seed}:{step}:{name}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & (2**63 - 1))


@dataclass(frozen=True)
class Outcome:
    status: Status
    message: str = ""
    mistakes: tuple[str, ...] = ()  # catalogue mistakes the checker itself named in ``message`` (`naming_mistakes`)

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def run_check(check: Check, subject: Subject, seed: int) -> Outcome:
    """Run one check; every way learner code can fail becomes an `Outcome` with a message.

    The check starts from random state of its own (`Subject.fresh_randomness`: torch, ``random`` and
    NumPy seeded from (seed, step, check name), and restored afterwards in-process), so its verdict
    is the same run alone or after any other check.
    """
    with subject.fresh_randomness(_learner_seed(seed, check.step, check.name)):
        return _run_check(check, subject, seed)


def _learner_seed(seed: int, step: str, name: str) -> int:
    """The seed of the learner's global generators for one check (not the check's own ``rng``)."""
    digest = hashlib.sha256(f"{seed}:{step}:{name}:learner".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def _run_check(check: Check, subject: Subject, seed: int) -> Outcome:
    subject.not_implemented = None  # what an earlier check on the same subject noted is not this check's
    try:
        check.function(subject, check_rng(seed, check.step, check.name))
    except NotImplementedYet as error:
        return Outcome("not_implemented", error.describe())
    except EarlierStepUnfinished as failure:
        return Outcome("failed", str(failure))
    except (CheckFailed, LearnerError) as failure:
        if subject.not_implemented is not None:  # however the check took it, the step is unfinished
            return Outcome("not_implemented", subject.not_implemented.describe())
        return Outcome("failed", failure.describe() if isinstance(failure, LearnerError) else str(failure))
    except CallFailed as failure:
        return Outcome("failed", str(failure))
    except Exception as error:  # noqa: BLE001 - the check itself broke, on an unexpected result
        return Outcome("error", f"the grader could not check this result ({type(error).__name__}: {error}); "
                                "the result may be of an unexpected type. Please tell your instructor.")
    return Outcome("passed")


def run_checks(checks: Iterable[Check], subject: Subject, seed: int,
               around: Callable[[], AbstractContextManager[object]] | None = None) -> Iterator[tuple[Check, Outcome]]:
    """Run ``checks`` in order on ``subject``: ``(check, outcome)`` as each finishes (`run_check`).

    The one check runner of pytest, the notebooks and the grader's in-process paths: callers only
    format the outcomes. ``around()``, when given, is entered around each check (a notebook keeps
    its random state and swallows printed output that way). Lazy: a caller that stops at the first
    failure runs no further check.
    """
    for check in checks:
        with around() if around is not None else nullcontext():
            outcome = run_check(check, subject, seed)
        yield check, outcome
