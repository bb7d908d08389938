"""Hidden checks of step 7, ``self_attention``: ``SelfAttention``."""

from __future__ import annotations

import torch

from autograder import reference as ref
from selfcheck import CheckFailed, Subject, expect_close, expect_inputs_unchanged, expect_tensor, parameters

from . import HIDDEN
from ._common import (
    build_module,
    conditioned,
    distinct,
    draw_seed,
    expect_close_named,
    expect_computed,
    expect_draws,
    isolated,
    output_mistakes,
    projection_weights,
    randint,
    recognise,
    sdpa,
    seeded,
    with_mistake,
)

STEP = "self_attention"
FACT_IDS = [0, 4, 3, 2, 5, 1]
FACT_ROW = torch.tensor([0.5313, 1.3607, 0.7891, 1.3110], dtype=torch.float64)


def _dims(rng: torch.Generator) -> tuple[int, int, int, int]:
    """``d_in, d_out_kq, d_out_v, T``, all different."""
    d_in, d_out_kq, d_out_v, length = distinct(rng, 4, 3, 14)
    return d_in, d_out_kq, d_out_v, length


def _shapes(d_in: int, d_out_kq: int, d_out_v: int) -> list[tuple[int, int]]:
    return [(d_in, d_out_kq), (d_in, d_out_kq), (d_in, d_out_v)]


def _expect_forward(subject: Subject, rng: torch.Generator, batch: tuple[int, ...], what: str) -> None:
    """The learner's module against SDPA with the grader's own weights loaded into it (so draws do not matter here)."""
    d_in, d_out_kq, d_out_v, length = _dims(rng)
    module = build_module(subject, "SelfAttention", d_in, d_out_kq, d_out_v, seed=draw_seed(rng))
    w_q, w_k, w_v = projection_weights(module, "SelfAttention", _shapes(d_in, d_out_kq, d_out_v), rng)
    x = conditioned(rng, (*batch, length, d_in), w_q, w_k)
    q, k, v = x.double() @ w_q, x.double() @ w_k, x.double() @ w_v
    expect_close_named(module(x), sdpa(q, k, v), what, mistakes=output_mistakes(q, k, v, d_in=d_in))


@HIDDEN.check(STEP, "torch.manual_seed(123); SelfAttention(3, 2, 4) on the course's embeddings", weight=1)
def example_row(subject: Subject, rng: torch.Generator) -> None:
    embeddings = isolated(lambda: ref.embed(torch.tensor(FACT_IDS)))
    module = build_module(subject, "SelfAttention", 3, 2, 4, seed=123)
    result = expect_tensor(module(embeddings), "SelfAttention(3, 2, 4)(embeddings)", shape=(6, 4))
    made = seeded(123, lambda: ref.SelfAttention(3, 2, 4))
    q, k, v = (embeddings.double() @ w.detach().double() for w in (made.W_query, made.W_key, made.W_value))
    mistakes = {name: produced[1] for name, produced in output_mistakes(q, k, v, d_in=3).items()}
    try:
        expect_close(result[1], FACT_ROW, "row 1 of SelfAttention(3, 2, 4)(embeddings)", rtol=0, atol=5e-5, reveal=True)
    except CheckFailed as failure:
        raise CheckFailed(with_mistake(str(failure), recognise(result[1], mistakes))) from None
    # The same module on a hidden input: a module that only knows the published row gets nothing here.
    w_q, w_k, w_v = (w.detach().double() for w in (made.W_query, made.W_key, made.W_value))
    x = conditioned(rng, (randint(rng, 4, 12), 3), w_q, w_k)
    q, k, v = x.double() @ w_q, x.double() @ w_k, x.double() @ w_v
    expect_close_named(module(x), sdpa(q, k, v), "the same SelfAttention(3, 2, 4) on a hidden (T, 3) input",
                       mistakes=output_mistakes(q, k, v))


@HIDDEN.check(STEP, "W_query, W_key, W_value: nn.Parameters from torch.rand, drawn in that order", weight=1.5)
def parameter_draws(subject: Subject, rng: torch.Generator) -> None:
    d_in, d_out_kq, d_out_v, _ = _dims(rng)
    seed = draw_seed(rng)
    module = build_module(subject, "SelfAttention", d_in, d_out_kq, d_out_v, seed=seed)
    expected = dict(seeded(seed, lambda: ref.SelfAttention(d_in, d_out_kq, d_out_v)).named_parameters())
    expect_draws(parameters(module), expected, seed, "SelfAttention built right after torch.manual_seed")


@HIDDEN.check(STEP, "forward on one sequence (T, d_in): scaled dot-product attention with the module's weights "
              "(F.scaled_dot_product_attention as reference)", weight=2.5)
def forward_sequence(subject: Subject, rng: torch.Generator) -> None:
    _expect_forward(subject, rng, (), "SelfAttention on a hidden (T, d_in) input")


@HIDDEN.check(STEP, "forward on a batch (B, T, d_in): every sequence attends within itself", weight=1.5)
def forward_batch(subject: Subject, rng: torch.Generator) -> None:
    _expect_forward(subject, rng, (randint(rng, 2, 4),), "SelfAttention on a hidden (B, T, d_in) input")


@HIDDEN.check(STEP, "forward returns float32 for float32 input and does not modify its input", weight=0.5)
def float32_and_unchanged(subject: Subject, rng: torch.Generator) -> None:
    d_in, d_out_kq, d_out_v, length = _dims(rng)
    module = build_module(subject, "SelfAttention", d_in, d_out_kq, d_out_v, seed=draw_seed(rng))
    w_q, w_k, w_v = projection_weights(module, "SelfAttention", _shapes(d_in, d_out_kq, d_out_v), rng)
    x = conditioned(rng, (2, length, d_in), w_q, w_k)
    result = module(x)
    expect_inputs_unchanged(subject, "SelfAttention.forward")
    expect_tensor(result, "SelfAttention on a float32 input", shape=(2, length, d_out_v), dtype=torch.float32)
    q, k, v = x.double() @ w_q, x.double() @ w_k, x.double() @ w_v
    expect_computed(result, sdpa(q, k, v), "SelfAttention on a hidden float32 (B, T, d_in) input", inputs=(x,),
                    mistakes=output_mistakes(q, k, v))
