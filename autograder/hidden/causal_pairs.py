"""Hidden checks of step 10, ``causal_pairs``: ``causal_pairs``, ``count_causal_pairs``, ``keys_attended``."""

from __future__ import annotations

from typing import Any

import torch

from autograder import reference as ref
from selfcheck import CallFailed, CheckFailed, LearnerError, Subject, expect_equal
from selfcheck import mistakes as m
from selfcheck.compare import expect_int, expect_pairs

from . import HIDDEN
from ._common import randint

STEP = "causal_pairs"
FUNCTIONS = ("causal_pairs", "count_causal_pairs", "keys_attended")
CLOSED_FORM = m.CLOSED_FORM


def _expect_pairs(actual: Any, n: int, what: str) -> None:
    expect_pairs(actual, ref.causal_pairs(n), what, m.pair_mistakes(n))


def _count(subject: Subject, n: int) -> Any:
    """``count_causal_pairs(n)``. No clock is read here: a loop (or a list of the pairs) fails on the
    call's own time or memory limit at the large sizes, however busy the machine, while a closed form
    answers them in microseconds, so a correct solution never depends on the machine's load."""
    try:
        return subject.count_causal_pairs(n)
    except CallFailed as failure:
        raise CheckFailed(f"{failure}\n  {CLOSED_FORM}") from None


@HIDDEN.check(STEP, "the course's example: causal_pairs(7), count_causal_pairs(7) == 28, keys_attended(5) == 6",
              weight=1)
def example_seven(subject: Subject, rng: torch.Generator) -> None:
    expect_equal(subject.causal_pairs(7), ref.causal_pairs(7), "causal_pairs(7)", reveal=True)
    expect_equal(subject.count_causal_pairs(7), 28, "count_causal_pairs(7)", reveal=True)
    expect_equal(subject.keys_attended(5), 6, "keys_attended(5)", reveal=True)
    n, position = randint(rng, 8, 30), randint(rng, 6, 40)  # and hidden sizes: knowing the example is not enough
    _expect_pairs(subject.causal_pairs(n), n, "causal_pairs(n) for a hidden n")
    expect_int(subject.count_causal_pairs(n), n * (n + 1) // 2, "count_causal_pairs(n) for a hidden n",
               m.count_mistakes(n))
    expect_int(subject.keys_attended(position), position + 1, "keys_attended(position) for a hidden position",
               m.keys_attended_mistakes(position))


@HIDDEN.check(STEP, "causal_pairs(n): every (i, j) with 0 <= j <= i < n, ordered by i then j (n = 0, 1 and "
              "hidden lengths)", weight=1.5)
def pairs_random(subject: Subject, rng: torch.Generator) -> None:
    for n, label in ((0, "causal_pairs(0)"), (1, "causal_pairs(1)"), (randint(rng, 8, 40), "causal_pairs(n)"),
                     (randint(rng, 41, 64), "causal_pairs(n) for a longer sequence")):
        _expect_pairs(subject.causal_pairs(n), n, label)


@HIDDEN.check(STEP, "count_causal_pairs(n) == n (n + 1) / 2 exactly, as an int, instantly even for 10**9", weight=1.5)
def count_closed_form(subject: Subject, rng: torch.Generator) -> None:
    for n in (0, 1, randint(rng, 2, 64), randint(rng, 65, 5000)):
        expect_int(subject.count_causal_pairs(n), n * (n + 1) // 2, "count_causal_pairs(n) for a hidden n",
                    m.count_mistakes(n))
    for n in (1_000, 3_000, 100_000, 10**7, 10**9):  # growing: a loop is told at the first size it cannot finish
        expect_int(_count(subject, n), n * (n + 1) // 2, f"count_causal_pairs({n:_})")
    huge = 10**15 + randint(rng, 0, 10**6)
    expect_int(_count(subject, huge), huge * (huge + 1) // 2, "count_causal_pairs(n) for n > 10**15 "
                "(a float loses digits there)")


@HIDDEN.check(STEP, "keys_attended(position) == position + 1: the earlier keys and the query's own key", weight=1)
def keys_attended_values(subject: Subject, rng: torch.Generator) -> None:
    for position in (0, randint(rng, 1, 63), randint(rng, 64, 10**6)):
        expect_int(subject.keys_attended(position), position + 1, "keys_attended(position) for a hidden position",
                    m.keys_attended_mistakes(position))


@HIDDEN.check(STEP, "negative, bool and non-integer arguments raise ValueError (TypeError accepted for "
              "non-integers)", weight=1)
def invalid_arguments(subject: Subject, rng: torch.Generator) -> None:
    cases: list[tuple[Any, str, tuple[type[BaseException], ...]]] = [
        (-randint(rng, 1, 50), "a negative int", (ValueError,)),
        (True, "True", (ValueError,)),
        (False, "False", (ValueError,)),
        (randint(rng, 1, 9) + 0.5, "a float", (ValueError, TypeError)),
        (float(randint(rng, 1, 9)), "a float with an integer value", (ValueError, TypeError)),
        (str(randint(rng, 1, 9)), "a str of digits", (ValueError, TypeError)),
    ]
    for name in FUNCTIONS:
        for value, label, accepted in cases:
            names = " or ".join(e.__name__ for e in accepted)
            try:
                result = getattr(subject, name)(value)
            except LearnerError as error:
                if isinstance(error, accepted):
                    continue
                raise CheckFailed(f"{name}({label}) should raise {names}, but it raised {error.type_name}") from None
            hint = f" ({m.BOOL_IS_INT})" if isinstance(value, bool) else ""
            raise CheckFailed(f"{name}({label}) should raise {names}, but it returned a value of type "
                              f"{type(result).__name__}{hint}")


@HIDDEN.check(STEP, "integer-like arguments (anything operator.index accepts, e.g. a 0-d integer tensor) work",
              weight=0.5)
def index_like_arguments(subject: Subject, rng: torch.Generator) -> None:
    n = randint(rng, 3, 20)
    like = torch.tensor(n)
    _expect_pairs(subject.causal_pairs(like), n, "causal_pairs(torch.tensor(n))")
    expect_int(subject.count_causal_pairs(like), n * (n + 1) // 2,
                "count_causal_pairs(torch.tensor(n)) (convert with operator.index first)")
    expect_int(subject.keys_attended(like), n + 1, "keys_attended(torch.tensor(position))")
