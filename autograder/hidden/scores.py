"""Hidden checks of step 4, ``scores``: ``attention_scores``."""

from __future__ import annotations

import torch

from autograder import reference as ref
from selfcheck import Subject, expect_inputs_unchanged
from selfcheck import mistakes as m

from . import HIDDEN
from ._common import distinct, expect_close_named, expect_computed, f64, randint, randn

STEP = "scores"


def _case(rng: torch.Generator, batch: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    t_q, t_k, d_k = distinct(rng, 3, 3, 12)
    return randn(rng, *batch, t_q, d_k), randn(rng, *batch, t_k, d_k)


def _expect_scores(subject: Subject, queries: torch.Tensor, keys: torch.Tensor, what: str, *,
                   dtype: torch.dtype | str = "floating", unchanged: bool = False, aspect: bool = False) -> None:
    """``attention_scores`` on copies of the inputs (on the inputs themselves with ``unchanged``, which checks that).

    ``aspect``: the check is about the dtype or the inputs, so a catalogued mistake's scores pass (`expect_computed`).
    """
    expected = ref.attention_scores(*f64(queries, keys))
    result = subject.attention_scores(*((queries, keys) if unchanged else (queries.clone(), keys.clone())))
    if unchanged:
        expect_inputs_unchanged(subject, "attention_scores")
    if aspect:
        expect_computed(result, expected, what, inputs=(queries, keys), mistakes=m.score_mistakes(queries, keys),
                        dtype=dtype)
    else:
        expect_close_named(result, expected, what, mistakes=m.score_mistakes(queries, keys), dtype=dtype)


@HIDDEN.check(STEP, "one query vector (d_k,) against keys (T_k, d_k) gives T_k scores", weight=1.5)
def one_query(subject: Subject, rng: torch.Generator) -> None:
    t_k, d_k = distinct(rng, 2, 3, 12)
    _expect_scores(subject, randn(rng, d_k), randn(rng, t_k, d_k), "attention_scores(query (d_k,), keys (T_k, d_k))")


@HIDDEN.check(STEP, "queries (T_q, d_k) against keys (T_k, d_k) with T_q != T_k: queries @ keys^T", weight=2)
def query_matrix(subject: Subject, rng: torch.Generator) -> None:
    queries, keys = _case(rng, ())
    _expect_scores(subject, queries, keys, "attention_scores(queries (T_q, d_k), keys (T_k, d_k))")


@HIDDEN.check(STEP, "leading batch dimensions: (..., T_q, d_k) and (..., T_k, d_k)", weight=1.5)
def batched(subject: Subject, rng: torch.Generator) -> None:
    queries, keys = _case(rng, (randint(rng, 2, 4), randint(rng, 2, 3)))
    _expect_scores(subject, queries, keys, "attention_scores on inputs with two batch dimensions")


@HIDDEN.check(STEP, "float32 inputs give a float32 result", weight=0.5)
def float32_result(subject: Subject, rng: torch.Generator) -> None:
    queries, keys = _case(rng, (2,))
    _expect_scores(subject, queries, keys, "attention_scores on float32 inputs", dtype=torch.float32, aspect=True)


@HIDDEN.check(STEP, "attention_scores does not modify its inputs", weight=0.5)
def inputs_unchanged(subject: Subject, rng: torch.Generator) -> None:
    queries, keys = _case(rng, (2,))
    _expect_scores(subject, queries, keys, "attention_scores on hidden (B, T_q, d_k), (B, T_k, d_k) inputs",
                   unchanged=True, aspect=True)
