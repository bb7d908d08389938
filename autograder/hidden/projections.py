"""Hidden checks of step 3, ``projections``: ``init_projections`` and ``project_qkv``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from autograder import reference as ref
from selfcheck import CheckFailed, Subject, expect_inputs_unchanged
from selfcheck import mistakes as m

from . import HIDDEN
from ._common import distinct, draw_seed, draws, expect_close_named, expect_draws, isolated, randint, randn

STEP = "projections"
NAMES = ("W_query", "W_key", "W_value")


def _dims(rng: torch.Generator) -> tuple[int, int, int]:
    d_in, d_out_kq, d_out_v = distinct(rng, 3, 3, 12)
    return d_in, d_out_kq, d_out_v


def _shapes(d_in: int, d_out_kq: int, d_out_v: int) -> dict[str, tuple[int, int]]:
    return {"W_query": (d_in, d_out_kq), "W_key": (d_in, d_out_kq), "W_value": (d_in, d_out_v)}


def _three(result: Any, what: str) -> tuple[Any, Any, Any]:
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        kind = type(result).__name__ if not isinstance(result, (tuple, list)) else f"{len(result)} items"
        raise CheckFailed(f"{what} should return three matrices (W_query, W_key, W_value), got {kind}")
    return result[0], result[1], result[2]


def _expect_draws(result: Any, seed: int, dims: tuple[int, int, int], what: str, extra: dict) -> None:
    got = dict(zip(NAMES, _three(result, what), strict=True))
    expected = dict(zip(NAMES, isolated(lambda: ref.init_projections(*dims, seed=seed)), strict=True))
    expect_draws(got, expected, seed, what, parameter=False, extra=extra)


@HIDDEN.check(STEP, "init_projections(..., seed=s): torch.rand draws after torch.manual_seed(s), "
              "in the order W_query, W_key, W_value", weight=2)
def seeded_draws(subject: Subject, rng: torch.Generator) -> None:
    d_in, d_out_kq, d_out_v = _dims(rng)
    seed = draw_seed(rng)
    result = subject.init_projections(d_in, d_out_kq, d_out_v, seed=seed)
    _expect_draws(result, seed, (d_in, d_out_kq, d_out_v), "init_projections with a hidden seed", {})


@HIDDEN.check(STEP, "init_projections returns three trainable nn.Parameters of shapes "
              "(d_in, d_out_kq), (d_in, d_out_kq), (d_in, d_out_v)", weight=1)
def parameter_types(subject: Subject, rng: torch.Generator) -> None:
    d_in, d_out_kq, d_out_v = _dims(rng)
    result = _three(subject.init_projections(d_in, d_out_kq, d_out_v, seed=draw_seed(rng)), "init_projections")
    for name, value, shape in zip(NAMES, result, _shapes(d_in, d_out_kq, d_out_v).values(), strict=True):
        if not isinstance(value, torch.Tensor):
            raise CheckFailed(f"init_projections: {name} should be an nn.Parameter, but it is a {type(value).__name__}")
        if tuple(value.shape) != shape:
            raise CheckFailed(f"init_projections: {name} has shape {tuple(value.shape)}, expected {shape}")
        if not isinstance(value, nn.Parameter):
            raise CheckFailed(f"init_projections: {name} should be an nn.Parameter (wrap it: nn.Parameter(...))")
        if not value.requires_grad:
            raise CheckFailed(f"init_projections: {name} should require grad (a trainable nn.Parameter)")
        if value.dtype != torch.float32:
            raise CheckFailed(f"init_projections: {name} has dtype {value.dtype}, expected torch.float32")


@HIDDEN.check(STEP, "init_projections without a seed draws from the current random state", weight=1)
def unseeded_draws(subject: Subject, rng: torch.Generator) -> None:
    d_in, d_out_kq, d_out_v = _dims(rng)
    seed = draw_seed(rng)
    shapes = _shapes(d_in, d_out_kq, d_out_v)
    subject.manual_seed(seed)
    result = subject.init_projections(d_in, d_out_kq, d_out_v)
    reseeded = {f"{m.RESEEDED} (here with seed {s})": draws(s, shapes, NAMES) for s in (123, 0, 42)}
    what = "init_projections(d_in, d_out_kq, d_out_v) after torch.manual_seed"
    _expect_draws(result, seed, (d_in, d_out_kq, d_out_v), what, reseeded)


def _project_case(rng: torch.Generator, batch: tuple[int, ...]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    d_in, d_out_kq, d_out_v = _dims(rng)
    length = randint(rng, 13, 20)  # longer than every width, so no two dimensions coincide
    weights = [torch.rand(d_in, d, generator=rng) for d in (d_out_kq, d_out_kq, d_out_v)]
    return randn(rng, *batch, length, d_in), weights


def _expect_projections(subject: Subject, x: torch.Tensor, weights: list[torch.Tensor], what: str) -> None:
    result = _three(subject.project_qkv(x.clone(), *[w.clone() for w in weights]), what)
    expected = [x.double() @ w.double() for w in weights]
    labels = ("queries", "keys", "values")
    for index, (label, got, want) in enumerate(zip(labels, result, expected, strict=True)):
        mistakes = m.returned_order_mistakes(expected, index, NAMES, label)
        expect_close_named(got, want, f"{what}: {label}", mistakes=mistakes)


@HIDDEN.check(STEP, "project_qkv: x @ W for each of W_query, W_key, W_value, for one sequence (T, d_in)", weight=1.5)
def project_sequence(subject: Subject, rng: torch.Generator) -> None:
    x, weights = _project_case(rng, ())
    _expect_projections(subject, x, weights, "project_qkv on a hidden (T, d_in) input")


@HIDDEN.check(STEP, "project_qkv on a batch (B, T, d_in)", weight=1)
def project_batch(subject: Subject, rng: torch.Generator) -> None:
    x, weights = _project_case(rng, (randint(rng, 2, 4),))
    _expect_projections(subject, x, weights, "project_qkv on a hidden (B, T, d_in) input")


@HIDDEN.check(STEP, "project_qkv does not modify its inputs", weight=0.5)
def project_unchanged(subject: Subject, rng: torch.Generator) -> None:
    x, weights = _project_case(rng, (2,))
    subject.project_qkv(x, *weights)
    expect_inputs_unchanged(subject, "project_qkv")
