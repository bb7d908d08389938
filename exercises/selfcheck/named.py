"""Which catalogue mistakes the checker's own code named while one check ran: the reports' data.

`selfcheck.mistakes.mistake_note` and `selfcheck.errors.LearnerError.describe` call `name_mistake`
when they write a mistake into a message; the grader runs each check inside `naming_mistakes` and
keeps what was named (`autograder.grading.engine`). So the mistakes the feedback page, the class
report and mistakes.csv list come from the checker, never from the message: a learner's exception
text that merely says "This looks like a common mistake: X" names nothing. A ContextVar, so each of
the grader's threads keeps its own. No torch here: the errors module imports it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_NAMED: ContextVar[list[str] | None] = ContextVar("named_mistakes", default=None)


@contextmanager
def naming_mistakes() -> Iterator[list[str]]:
    """Collect the mistakes named (`mistake_note`, `name_mistake`) inside the ``with``, in order, once each."""
    named: list[str] = []
    token = _NAMED.set(named)
    try:
        yield named
    finally:
        _NAMED.reset(token)


def name_mistake(description: str) -> str:
    """Record ``description`` as named by the checker (see `naming_mistakes`); returns it."""
    named = _NAMED.get()
    if named is not None and description not in named:
        named.append(description)
    return description
