"""Hidden checks of step 9, ``cross_attention``: ``CrossAttention``."""

from __future__ import annotations

import math

import torch

from autograder import reference as ref
from selfcheck import CheckFailed, Handle, LearnerError, Subject, expect_inputs_unchanged, parameters
from selfcheck import mistakes as m

from . import HIDDEN
from ._common import (
    build_module,
    distinct,
    draw_seed,
    expect_close_named,
    expect_computed,
    expect_draws,
    output_mistakes,
    projection_weights,
    randint,
    randn,
    sdpa,
    seeded,
)

STEP = "cross_attention"
KV_FROM_X1 = m.KV_FROM_X1  # the catalogue's words (selfcheck.mistakes), named here for tests and samples
def _module(subject: Subject, rng: torch.Generator) -> tuple[Handle, list[torch.Tensor], int]:
    d_in, d_out_kq, d_out_v = distinct(rng, 3, 3, 12)
    module = build_module(subject, "CrossAttention", d_in, d_out_kq, d_out_v, seed=draw_seed(rng))
    weights = projection_weights(module, "CrossAttention", [(d_in, d_out_kq), (d_in, d_out_kq), (d_in, d_out_v)],
                                 rng)
    return module, list(weights), d_in


def _inputs(rng: torch.Generator, batch: tuple[int, ...], t_1: int, t_2: int, d_in: int,
            weights: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``x_1``, ``x_2`` scaled together so that the scaled cross scores have a spread near 1.5."""
    x_1, x_2 = randn(rng, *batch, t_1, d_in), randn(rng, *batch, t_2, d_in)
    scores = (x_1.double() @ weights[0]) @ (x_2.double() @ weights[1]).mT / math.sqrt(weights[0].shape[-1])
    factor = math.sqrt(1.5 / float(scores.std()))
    return (x_1 * factor).float(), (x_2 * factor).float()


def _expect_cross(module: Handle, x_1: torch.Tensor, x_2: torch.Tensor, weights: list[torch.Tensor], what: str) -> None:
    w_q, w_k, w_v = weights
    a, b = x_1.double(), x_2.double()
    expected = sdpa(a @ w_q, b @ w_k, b @ w_v)
    mistakes = m.cross_mistakes(x_1, x_2, w_q, w_k, w_v)
    try:
        result = module(x_1, x_2)
    except LearnerError as error:
        if x_1.shape[-2] == x_2.shape[-2] or not isinstance(error, RuntimeError):
            raise
        raise CheckFailed(f"{what}: {error.describe()}\n  {m.CROSS_SHAPE_ERROR}") from None
    expect_close_named(result, expected, what, mistakes=mistakes)


@HIDDEN.check(STEP, "W_query, W_key, W_value: nn.Parameters from torch.rand, drawn in that order", weight=1)
def parameter_draws(subject: Subject, rng: torch.Generator) -> None:
    d_in, d_out_kq, d_out_v = distinct(rng, 3, 3, 12)
    seed = draw_seed(rng)
    module = build_module(subject, "CrossAttention", d_in, d_out_kq, d_out_v, seed=seed)
    expected = dict(seeded(seed, lambda: ref.CrossAttention(d_in, d_out_kq, d_out_v)).named_parameters())
    expect_draws(parameters(module), expected, seed, "CrossAttention built right after torch.manual_seed")


@HIDDEN.check(STEP, "queries from x_1 (T_1, d_in), keys and values from x_2 (T_2, d_in), T_1 != T_2 "
              "(F.scaled_dot_product_attention as reference)", weight=2.5)
def different_lengths(subject: Subject, rng: torch.Generator) -> None:
    module, weights, d_in = _module(subject, rng)
    t_1, t_2 = [t for t in distinct(rng, 4, 4, 16) if t != d_in][:2]
    x_1, x_2 = _inputs(rng, (), t_1, t_2, d_in, weights)
    _expect_cross(module, x_1, x_2, weights, "CrossAttention on hidden x_1 (T_1, d_in) and x_2 (T_2, d_in)")


@HIDDEN.check(STEP, "keys and values both come from x_2 (two different sequences of the same length)", weight=2)
def same_lengths(subject: Subject, rng: torch.Generator) -> None:
    module, weights, d_in = _module(subject, rng)
    length = next(t for t in distinct(rng, 2, 4, 16) if t != d_in)
    x_1, x_2 = _inputs(rng, (), length, length, d_in, weights)
    _expect_cross(module, x_1, x_2, weights, "CrossAttention on two hidden sequences of the same length")


@HIDDEN.check(STEP, "batches: x_1 (B, T_1, d_in) and x_2 (B, T_2, d_in) give (B, T_1, d_out_v)", weight=1.5)
def batched(subject: Subject, rng: torch.Generator) -> None:
    module, weights, d_in = _module(subject, rng)
    t_1, t_2 = [t for t in distinct(rng, 4, 4, 16) if t != d_in][:2]
    x_1, x_2 = _inputs(rng, (randint(rng, 2, 4),), t_1, t_2, d_in, weights)
    _expect_cross(module, x_1, x_2, weights, "CrossAttention on hidden batches x_1 (B, T_1, d_in), x_2 (B, T_2, d_in)")


@HIDDEN.check(STEP, "CrossAttention(x, x) is self-attention with the same weights", weight=0.5)
def self_special_case(subject: Subject, rng: torch.Generator) -> None:
    module, weights, d_in = _module(subject, rng)
    x, _ = _inputs(rng, (2,), randint(rng, 4, 16), 3, d_in, weights)
    q, k, v = (x.double() @ w for w in weights)
    expect_close_named(module(x, x.clone()), sdpa(q, k, v), "CrossAttention(x, x) on a hidden batch",
                       mistakes=output_mistakes(q, k, v))


@HIDDEN.check(STEP, "forward does not modify x_1 or x_2", weight=0.5)
def inputs_unchanged(subject: Subject, rng: torch.Generator) -> None:
    module, weights, d_in = _module(subject, rng)
    length = randint(rng, 4, 16)  # equal lengths: a wrong input choice fails other checks, not this one
    x_1, x_2 = _inputs(rng, (2,), length, length, d_in, weights)
    result = module(x_1, x_2)
    expect_inputs_unchanged(subject, "CrossAttention.forward")
    w_q, w_k, w_v = weights
    expect_computed(result, sdpa(x_1.double() @ w_q, x_2.double() @ w_k, x_2.double() @ w_v),
                    "CrossAttention on hidden batches x_1, x_2 of the same length", inputs=(x_1, x_2),
                    mistakes=m.cross_mistakes(x_1, x_2, w_q, w_k, w_v))
