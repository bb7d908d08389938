"""Hidden checks of step 13, ``kv_cache``: ``KVCache`` and ``decode_step``.

``decode_step`` runs against the grader's ``CausalSelfAttention`` (a stand-in for step 12, built
in the learner's process right after ``torch.manual_seed``) and the learner's own ``KVCache``.
"""

from __future__ import annotations

import math

import torch

from selfcheck import CheckFailed, Handle, LearnerError, Subject, expect_close, expect_handle, expect_inputs_unchanged
from selfcheck import mistakes as m

from . import HIDDEN
from ._common import (
    conditioned,
    distinct,
    draw_seed,
    expect_close_named,
    expect_computed,
    large_output_mistake,
    large_score_cache,
    projection_weights,
    randint,
    randn,
    sdpa,
    standin,
    with_mistake,
)

STEP = "kv_cache"
QUERIES_CACHED = m.QUERIES_CACHED


def _attention(subject: Subject, rng: torch.Generator, context_length: int | None = None,
               dims: tuple[int, int, int] | None = None) -> tuple[Handle, list[torch.Tensor], int, int]:
    """The grader's CausalSelfAttention in the learner's process, its weights, d_in and context_length."""
    d_in, d_out_kq, d_out_v = dims or distinct(rng, 3, 3, 12)
    context_length = context_length or randint(rng, 13, 20)
    subject.manual_seed(draw_seed(rng))
    attn = standin(subject, "CausalSelfAttention")(d_in, d_out_kq, d_out_v, context_length)
    weights = projection_weights(attn, "CausalSelfAttention", [(d_in, d_out_kq), (d_in, d_out_kq), (d_in, d_out_v)],
                                 rng)
    return attn, list(weights), d_in, context_length


def _new_cache(subject: Subject) -> Handle:
    return expect_handle(subject.KVCache(), "KVCache()")


def _row_mistakes(q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> dict[str, torch.Tensor | None]:
    """What the catalogue's mistakes give for one query row ``q`` against ``keys``/``values`` (new token last)."""
    return m.decode_row_mistakes(q, keys, values)


def _decode_all(subject: Subject, attn: Handle, x: torch.Tensor, weights: list[torch.Tensor], what: str,
                cache: Handle | None = None) -> Handle:
    """Decode every token of ``x`` (``(T, d_in)`` or ``(B, T, d_in)``), each row against the full causal output."""
    cache = cache if cache is not None else _new_cache(subject)
    q, k, v = (x.double() @ w for w in weights)
    full = sdpa(q, k, v, causal=True)
    for t in range(x.shape[-2]):
        result = subject.decode_step(attn, x[..., t, :].clone(), cache)
        expect_close_named(result, full[..., t, :], f"{what}, step {t}",
                           mistakes=_row_mistakes(q[..., t, :], k[..., : t + 1, :], v[..., : t + 1, :]))
    return cache


@HIDDEN.check(STEP, "KVCache starts empty (keys and values None, len 0); append adds one token's key and value, "
              "(..., t, d) after t tokens, batched or not", weight=1.5)
def cache_append(subject: Subject, rng: torch.Generator) -> None:
    d_k, d_v = distinct(rng, 2, 2, 12)
    for batch in ((), (randint(rng, 2, 4),)):
        cache = _new_cache(subject)
        if cache.keys is not None or cache.values is not None:
            raise CheckFailed("a new KVCache should have keys and values None")
        if len(cache) != 0:
            raise CheckFailed(f"len(KVCache()) should be 0, not {len(cache)}")
        count = randint(rng, 2, 6)
        keys, values = randn(rng, *batch, count, d_k), randn(rng, *batch, count, d_v)
        for t in range(count):
            cache.append(keys[..., t, :].clone(), values[..., t, :].clone())
        kind = "batched (B, d) keys and values" if batch else "(d,) keys and values"
        if len(cache) != count:
            raise CheckFailed(f"after {count} appends of {kind}, len(cache) is {len(cache)}")
        layout = "(B, t, d)" if batch else "(t, d)"
        expect_close(cache.keys, keys, f"cache.keys after appending {kind}, {layout}", atol=0, rtol=0,
                     mistakes={m.CACHE_DIM0: keys.transpose(0, 1)} if batch else None)
        expect_close(cache.values, values, f"cache.values after appending {kind}, {layout}", atol=0, rtol=0)


@HIDDEN.check(STEP, "decode_step token by token equals CausalSelfAttention on the whole sequence, row by row",
              weight=2.5)
def decode_matches_full(subject: Subject, rng: torch.Generator) -> None:
    attn, weights, d_in, context_length = _attention(subject, rng)
    x = conditioned(rng, (randint(rng, 4, context_length), d_in), weights[0], weights[1])
    _decode_all(subject, attn, x, weights, "decode_step on a hidden sequence")


@HIDDEN.check(STEP, "after t decode steps the cache holds t keys x_j W_key and t values x_j W_value", weight=1)
def cache_after_decoding(subject: Subject, rng: torch.Generator) -> None:
    attn, weights, d_in, context_length = _attention(subject, rng)
    length = randint(rng, 3, context_length)
    x = randn(rng, length, d_in)
    cache = _new_cache(subject)
    for t in range(length):
        subject.decode_step(attn, x[t].clone(), cache)
    if len(cache) != length:
        raise CheckFailed(f"after {length} decode steps len(cache) is {len(cache)}: every step appends one token")
    q, k, v = (x.double() @ w for w in weights)
    expect_close_named(cache.keys, k, "cache.keys after decoding a hidden sequence", mistakes={QUERIES_CACHED: q})
    expect_close_named(cache.values, v, "cache.values after decoding a hidden sequence")


@HIDDEN.check(STEP, "decode_step compares the new query with the cached keys (a cache filled beforehand)", weight=1.5)
def uses_cached_keys(subject: Subject, rng: torch.Generator) -> None:
    attn, weights, d_in, context_length = _attention(subject, rng)
    earlier = randint(rng, 2, context_length - 2)
    cache = _new_cache(subject)
    scale = 1 / math.sqrt(d_in)
    old_keys = randn(rng, earlier, weights[1].shape[1], scale=scale * 3)
    old_values = randn(rng, earlier, weights[2].shape[1])
    for t in range(earlier):
        cache.append(old_keys[t].clone(), old_values[t].clone())
    x_t = randn(rng, d_in, scale=scale)
    q, k_new, v_new = (x_t.double() @ w for w in weights)
    keys = torch.cat([old_keys.double(), k_new.unsqueeze(0)])
    values = torch.cat([old_values.double(), v_new.unsqueeze(0)])
    expected = sdpa(q.unsqueeze(0), keys, values).squeeze(0)
    result = subject.decode_step(attn, x_t, cache)
    expect_close_named(result, expected, "decode_step with a cache of earlier keys and values",
                       mistakes=_row_mistakes(q, keys, values))
    _expect_large_scores(subject, rng)


def _expect_large_scores(subject: Subject, rng: torch.Generator) -> None:
    """decode_step with a cache whose scores are all far below -1e5 (every key is attended to).

    A cache that keeps unused slots and masks them with a finite fill such as -1e4 leaks there.
    The new token's own score is -3 * LARGE_SCORES_MIN; the cached keys' scores are spread below
    -1.25 * LARGE_SCORES_MIN, so one cached key leads by a wide gap (`selfcheck.magnitude.large_score_cache`).
    """
    d_out_kq, d_in = sorted(distinct(rng, 2, 3, 12))  # d_in > d_out_kq: W_query W_key^T has a negative direction
    attn, weights, d_in, context_length = _attention(subject, rng, dims=(d_in, d_out_kq, randint(rng, 3, 12)))
    earlier = randint(rng, 2, context_length - 2)
    built = large_score_cache(rng, earlier, weights[0], weights[1])
    if built is None:
        raise RuntimeError("internal: the stand-in's W_query W_key^T has no negative direction")
    x_t, old_keys = built
    q, k_new, v_new = (x_t.double() @ w for w in weights)
    old_values = randn(rng, earlier, weights[2].shape[1])
    cache = _new_cache(subject)
    for t in range(earlier):
        cache.append(old_keys[t].clone(), old_values[t].clone())
    keys = torch.cat([old_keys.double(), k_new.unsqueeze(0)])  # (earlier, d_k) + (1, d_k) -> (earlier + 1, d_k)
    values = torch.cat([old_values.double(), v_new.unsqueeze(0)])
    result = subject.decode_step(attn, x_t, cache)
    try:
        expect_close_named(result, sdpa(q.unsqueeze(0), keys, values).squeeze(0),
                           "decode_step with a cache of earlier keys and values whose scores are far below -1e5")
    except CheckFailed as failure:
        raise CheckFailed(with_mistake(str(failure), large_output_mistake(result))) from None


@HIDDEN.check(STEP, "batched decoding: tokens (B, d_in) with a batched cache give (B, d_out_v) per step", weight=1.5)
def batched_decode(subject: Subject, rng: torch.Generator) -> None:
    attn, weights, d_in, context_length = _attention(subject, rng)
    x = conditioned(rng, (randint(rng, 2, 4), randint(rng, 3, context_length), d_in), weights[0], weights[1])
    _decode_all(subject, attn, x, weights, "decode_step on a hidden batch of sequences")


@HIDDEN.check(STEP, "decode_step raises ValueError once the cache holds context_length tokens", weight=1)
def full_cache(subject: Subject, rng: torch.Generator) -> None:
    attn, _, d_in, context_length = _attention(subject, rng, context_length=randint(rng, 2, 6))
    cache = _new_cache(subject)
    x = randn(rng, context_length + 1, d_in)
    for t in range(context_length):
        subject.decode_step(attn, x[t], cache)
    try:
        result = subject.decode_step(attn, x[context_length], cache)
    except LearnerError as error:
        if isinstance(error, ValueError):
            return
        raise CheckFailed(f"decode_step with a full cache (context_length tokens) should raise ValueError, but it "
                          f"raised {error.type_name}") from None
    raise CheckFailed(f"decode_step with a full cache (context_length tokens) should raise ValueError, but it "
                      f"returned {type(result).__name__}: compare len(cache) with attn's context length "
                      "(attn.mask.shape[-1])")


@HIDDEN.check(STEP, "decode_step does not modify the token it is given", weight=0.5)
def inputs_unchanged(subject: Subject, rng: torch.Generator) -> None:
    attn, weights, d_in, _ = _attention(subject, rng)
    cache = _new_cache(subject)
    x = conditioned(rng, (3, d_in), weights[0], weights[1])
    q, k, v = (x.double() @ w for w in weights)
    full = sdpa(q, k, v, causal=True)
    for t in range(x.shape[0]):
        result = subject.decode_step(attn, x[t].clone(), cache)
        expect_inputs_unchanged(subject, "decode_step")
        expect_computed(result, full[t], f"decode_step on a hidden sequence, step {t}", inputs=(x[t],),
                        mistakes=_row_mistakes(q[t], k[: t + 1], v[: t + 1]))
