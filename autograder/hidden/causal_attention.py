"""Hidden checks of step 12, ``causal_attention``: ``token_output`` and ``CausalSelfAttention``."""

from __future__ import annotations

import torch

from autograder import reference as ref
from selfcheck import (
    CheckFailed,
    Handle,
    LearnerError,
    Subject,
    buffers,
    expect_close,
    expect_inputs_unchanged,
    expect_tensor,
    parameters,
)
from selfcheck import mistakes as m
from selfcheck.public.causal_attention import token_output_call

from . import HIDDEN
from ._common import (
    build_module,
    conditioned,
    distinct,
    draw_seed,
    expect_close_named,
    expect_computed,
    expect_draws,
    large_output_mistake,
    large_score_tokens,
    magnitude_atol,
    output_mistakes,
    projection_weights,
    randint,
    randn,
    recognise,
    sdpa,
    seeded,
    with_mistake,
)

STEP = "causal_attention"
UNSLICED = m.UNSLICED


def _module(subject: Subject, rng: torch.Generator) -> tuple[Handle, list[torch.Tensor], int, int]:
    """A learner module with d_in, d_out_kq, d_out_v, context_length all different; its weights."""
    d_in, d_out_kq, d_out_v, context_length = distinct(rng, 4, 3, 16)
    context_length += 8
    module = build_module(subject, "CausalSelfAttention", d_in, d_out_kq, d_out_v, context_length,
                          seed=draw_seed(rng))
    weights = projection_weights(module, "CausalSelfAttention", [(d_in, d_out_kq), (d_in, d_out_kq), (d_in, d_out_v)],
                                 rng)
    return module, list(weights), d_in, context_length


def _forward(module: Handle, x: torch.Tensor, context_length: int, what: str) -> torch.Tensor:
    try:
        return module(x)
    except LearnerError as error:
        if isinstance(error, RuntimeError) and x.shape[-2] < context_length:
            raise CheckFailed(f"{what}: {error.describe()}\n  {UNSLICED}") from None
        raise


def _expect_causal(module: Handle, x: torch.Tensor, weights: list[torch.Tensor], context_length: int,
                   what: str) -> None:
    q, k, v = (x.double() @ w for w in weights)
    expect_close_named(_forward(module, x, context_length, what), sdpa(q, k, v, causal=True), what,
                       mistakes=output_mistakes(q, k, v, causal=True))


@HIDDEN.check(STEP, "token_output([0.1, 0.6, 0.3], [[1, 2], [3, 0], [4, 5]]) is [3.1, 1.7] (lists in, a floating "
              "tensor out)", weight=1)
def token_output_example(subject: Subject, rng: torch.Generator) -> None:
    result = token_output_call(subject, "token_output([0.1, 0.6, 0.3], [[1, 2], [3, 0], [4, 5]])", [0.1, 0.6, 0.3],
                           [[1, 2], [3, 0], [4, 5]])
    expect_close(result, torch.tensor([3.1, 1.7], dtype=torch.float64), "token_output([0.1, 0.6, 0.3], "
                 "[[1, 2], [3, 0], [4, 5]])", reveal=True)
    count, d_v = distinct(rng, 2, 2, 9)  # and on hidden lists: knowing the published answer is not enough
    weights_row = torch.softmax(randn(rng, count, scale=1.5), dim=-1)
    int_values = torch.randint(-9, 10, (count + randint(rng, 0, 3), d_v), generator=rng)
    result = token_output_call(subject, "token_output on hidden nested lists", weights_row.tolist(),
                               int_values.tolist())
    expect_close_named(result, ref.token_output(weights_row.double(), int_values.double()),
                       "token_output on hidden nested lists (float weights, int values)")


@HIDDEN.check(STEP, "token_output: sum of alpha_ij v_j over the first i+1 value rows; later rows ignored", weight=1.5)
def token_output_random(subject: Subject, rng: torch.Generator) -> None:
    count, d_v = distinct(rng, 2, 2, 12)
    weights_row = torch.softmax(randn(rng, count, scale=1.5), dim=-1)
    values = randn(rng, count + randint(rng, 1, 5), d_v)
    w, v = weights_row.double(), values.double()
    mistakes = m.token_output_mistakes(w, v)
    expect_close_named(subject.token_output(weights_row.clone(), values.clone()), ref.token_output(w, v),
                       "token_output(weights_row (i+1,), values (T, d_v)) on hidden tensors", mistakes=mistakes)
    int_values = torch.randint(-9, 10, (count + 1, d_v), generator=rng)
    expected = ref.token_output(w, int_values.double())
    what = "token_output on nested lists (float weights, int values)"
    result = token_output_call(subject, what, weights_row.tolist(), int_values.tolist())
    expect_close_named(result, expected, "token_output on nested lists (float weights, int values)")


@HIDDEN.check(STEP, "CausalSelfAttention: W_query, W_key, W_value from torch.rand in that order, and a registered "
              "buffer `mask` equal to causal_mask(context_length)", weight=1.5)
def parameters_and_mask(subject: Subject, rng: torch.Generator) -> None:
    d_in, d_out_kq, d_out_v, context_length = distinct(rng, 4, 3, 16)
    seed = draw_seed(rng)
    module = build_module(subject, "CausalSelfAttention", d_in, d_out_kq, d_out_v, context_length, seed=seed)
    named_buffers = buffers(module)
    if "mask" not in named_buffers:
        where = " (it is a parameter: use register_buffer)" if "mask" in parameters(module) else ""
        raise CheckFailed("CausalSelfAttention should register a buffer named `mask` holding "
                          f"causal_mask(context_length) (nn.Module.register_buffer){where}")
    mask = expect_tensor(named_buffers["mask"], "the `mask` buffer", shape=(context_length, context_length))
    expected_mask = ref.causal_mask(context_length)
    if not torch.equal(mask.double(), expected_mask.double()):
        mistake = None
        if torch.equal(mask.double(), (~expected_mask).double()):
            mistake = "the mask's polarity is inverted: True (or 1) marks the blocked keys, those after the query"
        elif torch.equal(mask.double(), torch.triu(torch.ones_like(mask.double()))):
            mistake = "the diagonal is blocked too: use causal_mask(context_length) (torch.triu(..., diagonal=1))"
        raise CheckFailed(with_mistake("the `mask` buffer is not causal_mask(context_length): True above the "
                                       "diagonal, False on and below", mistake))
    expect_tensor(mask, "the `mask` buffer", dtype=torch.bool)
    expected = dict(seeded(seed, lambda: ref.CausalSelfAttention(d_in, d_out_kq, d_out_v, context_length))
                    .named_parameters())
    expect_draws(parameters(module), expected, seed, "CausalSelfAttention built right after torch.manual_seed")


@HIDDEN.check(STEP, "forward on one sequence (T, d_in), T < context_length: causal attention with the module's "
              "weights (F.scaled_dot_product_attention with is_causal=True as reference)", weight=2.5)
def forward_sequence(subject: Subject, rng: torch.Generator) -> None:
    module, weights, d_in, context_length = _module(subject, rng)
    length = randint(rng, 4, context_length - 1)
    x = conditioned(rng, (length, d_in), weights[0], weights[1])
    _expect_causal(module, x, weights, context_length, "CausalSelfAttention on a hidden (T, d_in) input")


@HIDDEN.check(STEP, "forward on a batch (B, T, d_in), including T == context_length", weight=1.5)
def forward_batch(subject: Subject, rng: torch.Generator) -> None:
    module, weights, d_in, context_length = _module(subject, rng)
    batch = randint(rng, 2, 4)
    x = conditioned(rng, (batch, context_length, d_in), weights[0], weights[1])
    _expect_causal(module, x, weights, context_length,
                   "CausalSelfAttention on a hidden (B, T, d_in) input with T == context_length")
    shorter = randint(rng, 2, context_length - 1)
    _expect_causal(module, x[:, :shorter].contiguous(), weights, context_length,
                   "CausalSelfAttention on a hidden (B, T, d_in) input with T < context_length")


@HIDDEN.check(STEP, "outputs at position i do not change when the tokens after i change", weight=1.5)
def future_invariance(subject: Subject, rng: torch.Generator) -> None:
    module, weights, d_in, context_length = _module(subject, rng)
    length = randint(rng, 5, context_length)
    x = conditioned(rng, (randint(rng, 2, 4), length, d_in), weights[0], weights[1])
    position = randint(rng, 0, length - 2)
    changed = x.clone()
    changed[:, position + 1:] = conditioned(rng, (x.shape[0], length - position - 1, d_in), weights[0], weights[1])
    before = expect_tensor(_forward(module, x, context_length, "CausalSelfAttention"), "CausalSelfAttention(x)",
                           dtype="floating")
    after = expect_tensor(_forward(module, changed, context_length, "CausalSelfAttention"),
                          "CausalSelfAttention(x)", shape=tuple(before.shape), dtype="floating")
    keep = slice(0, position + 1)
    if not torch.allclose(before[:, keep].double(), after[:, keep].double(), rtol=1e-5, atol=1e-6):
        q, k, v = (x.double() @ w for w in weights)
        raise CheckFailed(with_mistake(
            "the outputs at earlier positions changed when only later tokens changed: a query sees keys after it",
            recognise(before, output_mistakes(q, k, v, causal=True), sdpa(q, k, v, causal=True))))
    q, k, v = (x.double() @ w for w in weights)
    expect_computed(before, sdpa(q, k, v, causal=True), "CausalSelfAttention on a hidden (B, T, d_in) input",
                    inputs=(x,), mistakes=output_mistakes(q, k, v, causal=True))
    # Masking must survive real score magnitudes: a -1e4 or -1e5 fill leaks here; -inf, finfo.min and -1e9 do not.
    d_out_kq, d_in = sorted(distinct(rng, 2, 3, 16))  # d_in > d_out_kq: W_query W_key^T has a negative direction
    d_out_v, context_length = randint(rng, 3, 16), randint(rng, 5, 16)
    module = build_module(subject, "CausalSelfAttention", d_in, d_out_kq, d_out_v, context_length, seed=draw_seed(rng))
    weights = projection_weights(module, "CausalSelfAttention", [(d_in, d_out_kq), (d_in, d_out_kq), (d_in, d_out_v)],
                                 rng)
    length = randint(rng, 4, context_length)
    x = large_score_tokens(rng, (randint(rng, 2, 4),), length, weights[0], weights[1])
    if x is None:  # the module's own weights have no such direction (its draws are not SPEC's: another check)
        return
    position = randint(rng, 0, length - 2)
    changed = x.clone()
    changed[:, position + 1:] *= 1.25
    before = _forward(module, x, context_length, "CausalSelfAttention")
    after = _forward(module, changed, context_length, "CausalSelfAttention")
    before, after = (expect_tensor(out, "CausalSelfAttention(x)", shape=(*x.shape[:-1], d_out_v), dtype="floating")
                     for out in (before, after))
    keep = slice(0, position + 1)
    if not torch.allclose(before[:, keep].double(), after[:, keep].double(), rtol=1e-5,
                          atol=magnitude_atol(x, weights[2], 1e-6)):
        raise CheckFailed(with_mistake(
            "the outputs at earlier positions changed when only later tokens changed, on hidden inputs whose "
            "scores are far below -1e5: a query sees keys after it", large_output_mistake(before)))


@HIDDEN.check(STEP, "ValueError for T > context_length and for token_output with fewer value rows than weights",
              weight=1)
def invalid_inputs(subject: Subject, rng: torch.Generator) -> None:
    module, _, d_in, context_length = _module(subject, rng)
    too_long = randn(rng, context_length + randint(rng, 1, 4), d_in)
    count = randint(rng, 3, 8)
    for label, call in (
        ("CausalSelfAttention on a sequence longer than context_length", lambda: module(too_long)),
        ("token_output with fewer value rows than weights",
         lambda: subject.token_output(torch.full((count,), 1.0 / count), randn(rng, count - 1, 3))),
    ):
        try:
            result = call()
        except LearnerError as error:
            if isinstance(error, ValueError):
                continue
            raise CheckFailed(f"{label} should raise ValueError, but it raised {error.type_name}") from None
        raise CheckFailed(f"{label} should raise ValueError, but it returned a {type(result).__name__}")


@HIDDEN.check(STEP, "token_output and forward do not modify their inputs", weight=0.5)
def inputs_unchanged(subject: Subject, rng: torch.Generator) -> None:
    count = randint(rng, 2, 6)
    weights_row, values = torch.softmax(randn(rng, count), -1), randn(rng, count + 2, 4)
    result = subject.token_output(weights_row, values)
    expect_inputs_unchanged(subject, "token_output")
    w, v = weights_row.double(), values.double()
    expect_computed(result, ref.token_output(w, v), "token_output on hidden tensors", inputs=(weights_row, values),
                    mistakes=m.token_output_mistakes(w, v))
    module, weights, d_in, context_length = _module(subject, rng)
    x = conditioned(rng, (2, randint(rng, 2, context_length), d_in), weights[0], weights[1])
    q, k, v = (x.double() @ w for w in weights)
    result = module(x)
    expect_inputs_unchanged(subject, "CausalSelfAttention.forward")
    expect_computed(result, sdpa(q, k, v, causal=True), "CausalSelfAttention on a hidden (B, T, d_in) input",
                    inputs=(x,), mistakes=output_mistakes(q, k, v, causal=True))
