"""Scores of large magnitude: masking and softmax must survive them (part of the mistake catalogue).

Real scores can fall far below a finite mask fill such as -1e4 or -1e5 (TransformerLens #318); the
blocked keys then get the weight. And a softmax that subtracts no row maximum turns such scores into
0 / 0 = NaN. Recognising these two mistakes, and building inputs that show them, is mechanism, not
secret: the public checks (``pytest``) build such inputs from fixed public seeds and sizes, the hidden
checks from the hidden seed, and both name the mistakes with the words below.

The inputs put every row's allowed (unblocked) scaled scores in ``[-LARGE_SCORES_MAX, -LARGE_SCORES_MIN]``:
far below -1e5, far above -1e9 (a -1e9 fill stays safe, also when it is applied before the scaling: raw
scores stay below 1e7 for d_k <= 16). In every row one allowed key leads the others by more than
``LARGE_SCORES_GAP``, so the weights are one-hot within exp(-gap) and do not depend on how float32 rounds
such large scores: any correct implementation gets the same result. The blocked scores stay below that
leading key too, so a softmax that subtracts the maximum of the whole row before zeroing the blocked
entries stays exact. Correct code passes on them: ``-inf``, ``torch.finfo(dtype).min`` or ``-1e9`` fills,
float64 inside, ``torch.softmax`` or a hand-written softmax that subtracts the row maximum.

Builders draw only from the ``torch.Generator`` they are given, never from the global generator.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from .compare import ATOL, expect_close
from .errors import CheckFailed
from .mistakes import SOFTMAX_OVERFLOW, blocked_cells, f64, with_mistake

LARGE_SCORES_MIN = 2e5
LARGE_SCORES_MAX = 2.5e6
LARGE_SCORES_GAP = 100.0
FINITE_FILL = (
    "on scores far below -1e5 the blocked keys get weight: the blocked scores were filled with a finite value "
    "(like -1e4) that real scores can fall below; fill with float('-inf') or torch.finfo(scores.dtype).min"
)
UNSTABLE_SOFTMAX = SOFTMAX_OVERFLOW  # one catalogue entry (step 5 names it too)
LARGE_POSITIVE_MIN = 1000.0  # step 5: scaled scores this large overflow exp in float32 and in float64
LARGE_POSITIVE_MAX = 3000.0


# ---------------------------------------------------------------------------------------------
# Recognisers (run only after the same code passed on ordinary inputs)
# ---------------------------------------------------------------------------------------------


def large_scores_mistake(weights: Any) -> str | None:
    """What causal ``weights`` (after passing on ordinary scores) show on scores of large magnitude."""
    if not isinstance(weights, torch.Tensor) or weights.dim() < 2 or not weights.is_floating_point():
        return None
    if bool(weights.isnan().any()):
        return UNSTABLE_SOFTMAX
    length = weights.shape[-1]
    if weights.shape[-2] == length and bool((weights[..., blocked_cells(length, length)] != 0).any()):
        return FINITE_FILL
    return None


def large_output_mistake(output: Any) -> str:
    """What an attention output that passed on ordinary inputs but not on scores of large magnitude shows."""
    if isinstance(output, torch.Tensor) and output.is_floating_point() and bool(output.isnan().any()):
        return UNSTABLE_SOFTMAX
    return FINITE_FILL


def expect_weights_at_magnitude(weights: Any, scores: torch.Tensor, d_k: float, what: str) -> None:
    """``attention_weights`` on `large_weight_scores` (after it passed on ordinary scores): one-hot rows.

    NaN there is the softmax that subtracts no row maximum (`SOFTMAX_OVERFLOW`); any other difference is
    reported as usual.
    """
    (s,) = f64(scores)
    expected = torch.softmax(s / math.sqrt(d_k), dim=-1)
    if isinstance(weights, torch.Tensor) and weights.is_floating_point() and bool(weights.isnan().any()):
        raise CheckFailed(with_mistake(f"{what} has NaN entries", SOFTMAX_OVERFLOW))
    expect_close(weights, expected, what)


def magnitude_atol(x: torch.Tensor, w: torch.Tensor, atol: float = ATOL) -> float:
    """``atol`` for results of ``x @ w`` (and weighted sums of them) scaled to their magnitude.

    A float32 product rounds by about 6e-8 of ``|x| @ |w|``, not of the (possibly cancelling) result.
    """
    (x, w) = f64(x, w)
    return atol * max(1.0, float((x.abs() @ w.abs()).max()))


# ---------------------------------------------------------------------------------------------
# Input builders
# ---------------------------------------------------------------------------------------------


def _allowed_rows_ok(scaled: torch.Tensor) -> bool:
    """Every row's allowed scaled scores in the large range, one key ahead by more than the gap, and every
    blocked score below that key by more than the gap."""
    length = scaled.shape[-1]
    allowed = ~blocked_cells(length, length)
    inside = scaled[..., allowed]
    if not bool(((inside <= -LARGE_SCORES_MIN) & (inside >= -LARGE_SCORES_MAX)).all()):
        return False
    for i in range(length):
        top = scaled[..., i, : i + 1].topk(min(2, i + 1), dim=-1).values
        if i > 0 and not bool((top[..., 0] - top[..., 1] > LARGE_SCORES_GAP).all()):
            return False
        if not bool((scaled[..., i, i + 1:] < top[..., :1] - LARGE_SCORES_GAP).all()):
            return False
    return True


def large_weight_scores(rng: torch.Generator, batch: Sequence[int], t_q: int, t_k: int, d_k: int) -> torch.Tensor:
    """float32 ``(*batch, T_q, T_k)`` scores (whole numbers, exact) whose scaled values are of large magnitude.

    Row by row, in turn: a leading scaled score in ``[LARGE_POSITIVE_MIN, LARGE_POSITIVE_MAX)`` (exp overflows,
    in float32 and float64), or in ``[-LARGE_SCORES_MAX, -LARGE_SCORES_MIN]`` (exp underflows to 0). Every
    other score of the row is below the leading one by more than ``LARGE_SCORES_GAP``, so the weights are
    one-hot within exp(-gap) whatever the float32 rounding: every correct softmax gives the same result.
    """
    root = math.sqrt(d_k)
    shape = (*batch, t_q, 1)
    unit = torch.rand(shape, generator=rng, dtype=torch.float64)
    positive = LARGE_POSITIVE_MIN + (LARGE_POSITIVE_MAX - LARGE_POSITIVE_MIN) * unit
    negative = -LARGE_SCORES_MIN - (LARGE_SCORES_MAX / 2 - LARGE_SCORES_MIN) * unit
    rows = torch.arange(t_q, dtype=torch.float64).reshape(t_q, 1) + sum(batch)
    lead = torch.where(rows % 2 == 0, positive, negative)  # (*batch, T_q, 1)
    below = lead - 2 * LARGE_SCORES_GAP - 1000 * torch.rand(*batch, t_q, t_k, generator=rng, dtype=torch.float64)
    leader = torch.randint(0, t_k, shape, generator=rng)
    scaled = below.scatter(-1, leader, lead)  # one leading key per row, at a random position
    return (scaled * root).round().to(torch.float32)


def large_causal_scores(rng: torch.Generator, batch: Sequence[int], length: int, d_k: int) -> torch.Tensor:
    """float32 ``(*batch, T, T)`` scores (whole numbers, exact) for causal masking at large magnitude.

    Allowed entries ``j <= i``: scaled values in ``[-LARGE_SCORES_MAX, -LARGE_SCORES_MIN]``, distinct levels
    with wide gaps. Blocked entries ``j > i``: below the row's leading allowed score by the gap or more.
    """
    root = math.sqrt(d_k)
    step = (LARGE_SCORES_MAX / 2 - LARGE_SCORES_MIN) / max(length, 1)
    levels = torch.stack([torch.randperm(length, generator=rng) for _ in range(math.prod(batch) * length)])
    allowed = -(1.25 * LARGE_SCORES_MIN + step * levels.to(torch.float64).reshape(*batch, length, length))
    blocked_at = blocked_cells(length, length)
    top = allowed.masked_fill(blocked_at, -math.inf).amax(dim=-1, keepdim=True)  # (*batch, T, T) -> (*batch, T, 1)
    below = top - 2 * LARGE_SCORES_GAP - LARGE_SCORES_MIN * torch.rand(*batch, length, length, generator=rng,
                                                                        dtype=torch.float64)
    scores = (torch.where(blocked_at, below, allowed) * root).round().to(torch.float32)
    if not _allowed_rows_ok(scores.double() / root):
        raise RuntimeError("internal: large causal scores out of range")
    return scores


def negative_direction(w_query: torch.Tensor, w_key: torch.Tensor) -> tuple[float, torch.Tensor]:
    """The most negative eigenvalue of the symmetric part of ``W_query W_key^T`` and its unit eigenvector.

    A token ``c * u`` then has the score ``c**2 * lam`` against itself: negative when ``lam`` is.
    """
    (w_q, w_k) = f64(w_query, w_key)
    product = w_q @ w_k.mT  # (d_in, d_k) @ (d_k, d_in) -> (d_in, d_in)
    values, vectors = torch.linalg.eigh((product + product.mT) / 2)
    return float(values[0]), vectors[:, 0]


def large_score_tokens(rng: torch.Generator, batch: Sequence[int], length: int, w_query: torch.Tensor,
                       w_key: torch.Tensor) -> torch.Tensor | None:
    """float32 tokens ``(*batch, T, d_in)`` whose causal scaled scores are all large and negative, or ``None``.

    Token ``j`` is ``c_j * u`` (``u`` from `negative_direction`, levels ``c_j`` in ``[1.05, 2.55)`` times a
    common scale; token 0 has the lowest level, the others come in random order): score ``(i, j)`` is
    ``lam * c_i * c_j``, so every row's leading key is token 0 and every blocked score is below it. Scaling
    later tokens up (by up to 1.25) keeps all that. ``None`` when ``W_query W_key^T`` has no negative
    direction (every token then scores positively against itself) or the rounded tokens miss the range.
    """
    lam, u = negative_direction(w_query, w_key)
    d_k = w_query.shape[-1]
    if not lam < 0:
        return None
    scale = math.sqrt(LARGE_SCORES_MIN * math.sqrt(d_k) / -lam)
    later = [torch.randperm(length - 1, generator=rng) + 1 for _ in range(math.prod(batch))]
    levels = torch.stack([torch.cat([torch.zeros(1, dtype=torch.int64), order]) for order in later])
    levels = 1.05 + 1.5 * levels.to(torch.float64).reshape(*batch, length, 1) / length
    x = (scale * levels * u).to(torch.float32)  # (*batch, T, 1) * (d_in,) -> (*batch, T, d_in)
    q, k = x.double() @ w_query.double(), x.double() @ w_key.double()
    return x if _allowed_rows_ok(q @ k.mT / math.sqrt(d_k)) else None


def large_score_cache(rng: torch.Generator, earlier: int, w_query: torch.Tensor, w_key: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor] | None:
    """A new token ``x_t (d_in,)`` and ``earlier`` cached keys ``(earlier, d_k)`` (float32) for decoding at
    large magnitude, or ``None`` when ``W_query W_key^T`` has no negative direction.

    The new token's own scaled score is ``-3 * LARGE_SCORES_MIN``; the cached keys' scaled scores are spread
    below ``-1.25 * LARGE_SCORES_MIN`` in random order, so one cached key leads by a wide gap and every key
    is attended to (nothing is blocked). A cache that scores unused slots and fills them with a finite value
    such as -1e4 leaks there; a softmax without the row maximum gives NaN.
    """
    lam, direction = negative_direction(w_query, w_key)
    if not lam < 0:
        return None
    root = math.sqrt(w_query.shape[-1])
    x_t = (math.sqrt(3 * LARGE_SCORES_MIN * root / -lam) * direction).to(torch.float32)
    q = x_t.double() @ w_query.double()
    levels = LARGE_SCORES_MIN * (1.25 + 1.5 * torch.randperm(earlier, generator=rng).double() / earlier)
    old_keys = (-(levels * root).unsqueeze(-1) * q / q.dot(q)).to(torch.float32)  # q . key_j = -level_j sqrt(d_k)
    return x_t, old_keys
