"""Public checks of step 10, ``causal_pairs`` (attention/causal_pairs.py): which query-key pairs causal attention
computes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .. import mistakes as m
from ..compare import (
    expect_int,
    expect_pairs,
    expect_raises,
)
from ..errors import CallFailed, CheckFailed
from ..registry import CheckFunction
from ..subject import Subject
from .common import (
    public_check,
)

STEP = "causal_pairs"


def check(title: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a public check of this step."""
    return public_check(STEP, title)


@check("causal_pairs(n) lists (0, 0), (1, 0), (1, 1), ..., (n-1, n-1) as tuples, ordered by i then j (n = 7, 1, 0)")
def pairs_for_seven(subject: Subject, rng: torch.Generator) -> None:
    for n in (7, 1, 0):
        expected = [(i, j) for i in range(n) for j in range(i + 1)]
        got = subject.causal_pairs(n)
        try:
            expect_pairs(got, expected, f"causal_pairs({n})", m.pair_mistakes(n))
        except CheckFailed as failure:
            raise CheckFailed(f"{failure}\n  expected: {expected}\n  got:      {str(got)[:300]}") from None


@check("count_causal_pairs(n) == n (n + 1) / 2 as an int (28 for 7, 0 for 0), instantly even for 10**9")
def count_for_seven(subject: Subject, rng: torch.Generator) -> None:
    for n in (7, 0, 10):
        expect_int(subject.count_causal_pairs(n), n * (n + 1) // 2, f"count_causal_pairs({n})", m.count_mistakes(n))
    for n in (10**4, 10**5, 10**6, 10**7, 10**9):  # growing: a loop is told at the first size it cannot finish
        expect_int(_count(subject, n), n * (n + 1) // 2, f"count_causal_pairs({n:_})")
    huge = 10**15 + 7
    expect_int(_count(subject, huge), huge * (huge + 1) // 2, "count_causal_pairs(10**15 + 7) (a float "
               "loses digits there)")


def _count(subject: Subject, n: int) -> Any:
    """``count_causal_pairs(n)``: a loop fails on the call's time limit at the large sizes (no clock read
    here, so a busy machine never fails a closed form)."""
    try:
        return subject.count_causal_pairs(n)
    except CallFailed as failure:
        raise CheckFailed(f"{failure}\n  {m.CLOSED_FORM}") from None


@check("keys_attended(5) == 6: the query at position 5 is compared with keys 0..5 (and position 0 with one key)")
def keys_for_position_five(subject: Subject, rng: torch.Generator) -> None:
    for position in (5, 0, 1000):
        expect_int(subject.keys_attended(position), position + 1, f"keys_attended({position})",
                   m.keys_attended_mistakes(position))


@check("negative numbers, True/False, floats and strings raise ValueError (TypeError accepted for non-integers)")
def bad_arguments_raise(subject: Subject, rng: torch.Generator) -> None:
    cases = ((-1, (ValueError,)), (True, (ValueError,)), (False, (ValueError,)), (2.5, (ValueError, TypeError)),
             (3.0, (ValueError, TypeError)), ("3", (ValueError, TypeError)))
    for name in ("causal_pairs", "count_causal_pairs", "keys_attended"):
        function = getattr(subject, name)
        for value, accepted in cases:
            try:
                expect_raises(accepted, lambda f=function, v=value: f(v), f"{name}({value!r})")
            except CheckFailed as failure:
                hint = f" ({m.BOOL_IS_INT})" if isinstance(value, bool) else ""
                raise CheckFailed(f"{failure}{hint}") from None


@check("integer-like arguments work: a 0-d integer tensor, torch.tensor(5), counts like 5")
def index_like_arguments(subject: Subject, rng: torch.Generator) -> None:
    like = torch.tensor(5)
    expect_pairs(subject.causal_pairs(like), [(i, j) for i in range(5) for j in range(i + 1)],
                 "causal_pairs(torch.tensor(5))", m.pair_mistakes(5))
    expect_int(subject.count_causal_pairs(like), 15, "count_causal_pairs(torch.tensor(5)) (convert with "
               "operator.index first)")
    expect_int(subject.keys_attended(like), 6, "keys_attended(torch.tensor(5))")
