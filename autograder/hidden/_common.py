"""Helpers shared by the hidden checks: randomness, learner modules, oracles.

The common mistakes live in the one catalogue shared with the public checks, `selfcheck.mistakes`.

Everything here runs in the trusted process. Randomness comes only from the check's generator
``rng``; seeded parameter draws happen in the process where learner code runs through
`selfcheck.Subject.manual_seed`, and the matching reference draws happen here inside
``torch.random.fork_rng`` so that this process's global generator is left alone.

Oracles are computed in float64 from the float32 inputs the learner code receives, so a
float32, float64-inside, einsum or manual-softmax solution is within the stated tolerances.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import torch
from torch.nn import functional as F

from autograder import reference
from selfcheck import Handle, LocalSubject, Subject, expect_close, expect_handle
from selfcheck.compare import (
    ATOL,
    RTOL,
    expect_bool,  # noqa: F401 - re-exported for the step modules
    expect_parameters,
)
from selfcheck.compare import expect_draws as shared_expect_draws
from selfcheck.mistakes import (  # noqa: F401 - the catalogue (selfcheck.mistakes), re-exported for the step modules
    DIAGONAL_MASKED,
    INVERTED,
    MISTAKE_PREFIX,
    NO_RENORM,
    NO_SCALE,
    SCALE_DK,
    WEIGHTS_TRANSPOSED,
    WRONG_DIM,
    ZERO_NOT_INF,
    blocked_cells,
    f64,
    output_mistakes,
    recognise,
    weight_mistakes,
    with_mistake,
)
from selfcheck.steps import BY_ID, STEPS
from selfcheck.subject import LocalHandle

T = TypeVar("T")

# ---------------------------------------------------------------------------------------------
# Randomness (only from the check's generator)
# ---------------------------------------------------------------------------------------------


def randint(rng: torch.Generator, low: int, high: int) -> int:
    """A random int in ``[low, high]`` (both included)."""
    return int(torch.randint(low, high + 1, (1,), generator=rng))


def distinct(rng: torch.Generator, count: int, low: int, high: int) -> list[int]:
    """``count`` distinct random ints in ``[low, high]``, in random order."""
    pool = torch.randperm(high - low + 1, generator=rng)[:count] + low
    return [int(v) for v in pool]


def draw_seed(rng: torch.Generator) -> int:
    """A seed for ``torch.manual_seed``."""
    return randint(rng, 0, 2**31 - 1)


def randn(rng: torch.Generator, *shape: int, scale: float = 1.0) -> torch.Tensor:
    """float32 normal values."""
    return torch.randn(*shape, generator=rng) * scale


def permutation(rng: torch.Generator, n: int) -> list[int]:
    return [int(v) for v in torch.randperm(n, generator=rng)]


# The grader checks several submissions at once, one thread each (``--jobs``), and torch has one
# global generator per process: a thread's seed-then-draw must not interleave with another's.
_GLOBAL_GENERATOR = threading.RLock()


def isolated(make: Callable[[], T]) -> T:
    """``make()`` (which may seed and draw) without changing this process's global generator.

    Holds the process-wide generator lock, so concurrent checks never interleave their draws.
    """
    with _GLOBAL_GENERATOR, torch.random.fork_rng(devices=[]):
        return make()


def cpu_manual_seed(seed: int) -> None:
    """``torch.manual_seed(seed)`` for the CPU generator only: the same draws on CPU, without the 3 to 5 ms
    torch spends recording a stack trace for each accelerator's lazy seeding."""
    torch.random.default_generator.manual_seed(int(seed))


def seeded(seed: int, make: Callable[[], T]) -> T:
    """``make()`` right after ``torch.manual_seed(seed)``, leaving this process's generator alone."""

    def make_seeded() -> T:
        cpu_manual_seed(seed)
        return make()

    return isolated(make_seeded)


# ---------------------------------------------------------------------------------------------
# Learner objects
# ---------------------------------------------------------------------------------------------


def standin(subject: Subject, name: str) -> Handle:
    """A handle to the grader's stand-in ``name`` (an earlier step's API), in the learner's process.

    A subject class may offer ``standin(name)`` (`RemoteSubject` does: its child returns the object
    from the stand-in modules it imported for the earlier steps). A `LocalSubject` (project tests,
    notebooks) gets the object from `autograder.reference`. Only earlier steps' names are allowed,
    so a check can never hand a step its own reference.
    """
    step = BY_ID.get(subject.step)
    owner = next((s for s in STEPS if name in s.api), None)
    if step is None or owner is None or owner.number >= step.number:
        raise RuntimeError(f"internal: {name} is not an earlier step's API for step {subject.step}")
    method = getattr(type(subject), "standin", None)
    if callable(method):
        return method(subject, name)
    if isinstance(subject, LocalSubject):
        return LocalHandle(subject, getattr(reference, name), name)
    raise RuntimeError(f"internal: {type(subject).__name__} cannot provide stand-ins")


def build_module(subject: Subject, class_name: str, *args: int, seed: int, what: str | None = None) -> Handle:
    """``torch.manual_seed(seed); subject.<class_name>(*args)`` in the learner's process; an nn.Module handle."""
    subject.manual_seed(seed)
    module = getattr(subject, class_name)(*args)
    return expect_handle(module, what or f"{class_name}({', '.join(map(str, args))})", base="Module")


def projection_weights(
    module: Handle, what: str, shapes: Sequence[tuple[int, int]], prefix: str = ""
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The module's ``W_query``, ``W_key``, ``W_value`` parameters (float64), checked by `expect_parameters`."""
    found = expect_parameters(module, what, dict(zip(("W_query", "W_key", "W_value"), shapes, strict=True)),
                              prefix=prefix, dtype=None)
    return tuple(value.detach().to(torch.float64) for value in found.values())  # type: ignore[return-value]


def draws(seed: int, shapes: Mapping[str, tuple[int, ...]], order: Sequence[str], draw: Callable = torch.rand) -> dict:
    """The matrices ``draw`` makes right after ``torch.manual_seed(seed)`` in ``order``, by name."""

    def make() -> dict[str, torch.Tensor]:
        cpu_manual_seed(seed)
        return {name: draw(*shapes[name]) for name in order}

    return isolated(make)


def expect_draws(
    got: Mapping[str, Any],
    expected: Mapping[str, torch.Tensor],
    seed: int,
    what: str,
    *,
    parameter: bool = True,
    extra: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
) -> None:
    """`selfcheck.compare.expect_draws` with the grader's own expectation (the reference's seeded draws)."""
    shapes = {name: tuple(value.shape) for name, value in expected.items()}
    shared_expect_draws(got, seed, shapes, what, parameter=parameter, extra=extra, expected=expected)


# ---------------------------------------------------------------------------------------------
# Comparisons
# ---------------------------------------------------------------------------------------------


def expect_close_named(
    actual: Any,
    expected: torch.Tensor,
    what: str,
    *,
    mistakes: Mapping[str, torch.Tensor | None] | None = None,
    rtol: float = RTOL,
    atol: float = ATOL,
    dtype: torch.dtype | str | None = "floating",
) -> torch.Tensor:
    """`selfcheck.expect_close` (kept under this name for the step modules)."""
    return expect_close(actual, expected, what, rtol=rtol, atol=atol, dtype=dtype, mistakes=mistakes)


# ---------------------------------------------------------------------------------------------
# Attention oracles and the common mistakes' results (float64)
# ---------------------------------------------------------------------------------------------


def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, causal: bool = False) -> torch.Tensor:
    """The oracle: ``F.scaled_dot_product_attention`` in float64."""
    q, k, v = f64(q, k, v)
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


def conditioned(rng: torch.Generator, shape: Sequence[int], w_query: torch.Tensor, w_key: torch.Tensor) -> torch.Tensor:
    """Random float32 inputs scaled so that the scaled scores have a standard deviation near 1.5.

    Softmax then neither saturates (which would hide a wrong scale) nor flattens.
    """
    x = randn(rng, *shape)
    q, k = x.double() @ w_query.double(), x.double() @ w_key.double()
    spread = float((q @ k.mT / math.sqrt(w_query.shape[-1])).std())
    if math.isfinite(spread) and spread > 0:
        x = x * math.sqrt(1.5 / spread)
    return x.to(torch.float32)


# ---------------------------------------------------------------------------------------------
# Scores of large magnitude: masking must survive them
# ---------------------------------------------------------------------------------------------
# Real scores can fall far below a finite mask fill such as -1e4 or -1e5 (TransformerLens #318); the
# blocked keys then get the weight. These inputs put every row's allowed (unblocked) scaled scores in
# [-LARGE_SCORES_MAX, -LARGE_SCORES_MIN]: far below -1e5, far above -1e9 (a -1e9 fill stays safe, also
# when it is applied before the scaling: raw scores stay below 1e7 for d_k <= 16). In every row one allowed
# key leads the others by more than LARGE_SCORES_GAP, so the weights are one-hot within exp(-gap) and do
# not depend on how float32 rounds such large scores: any correct implementation gets the same result.
# The blocked scores stay below that leading key too, so a softmax that subtracts the maximum of the whole
# row before zeroing the blocked entries stays exact. (A softmax that subtracts no maximum cannot survive
# such scores: exp underflows to 0 / 0.)

LARGE_SCORES_MIN = 2e5
LARGE_SCORES_MAX = 2.5e6
LARGE_SCORES_GAP = 100.0
FINITE_FILL = (
    "on scores far below -1e5 the blocked keys get weight: the blocked scores were filled with a finite value "
    "(like -1e4) that real scores can fall below; fill with float('-inf') or torch.finfo(scores.dtype).min"
)
UNSTABLE_SOFTMAX = (
    "NaN on scores of large magnitude: exp under- or overflows; subtract each row's maximum before exp "
    "(torch.softmax does)"
)


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


def magnitude_atol(x: torch.Tensor, w: torch.Tensor, atol: float = ATOL) -> float:
    """``atol`` for results of ``x @ w`` (and weighted sums of them) scaled to their magnitude.

    A float32 product rounds by about 6e-8 of ``|x| @ |w|``, not of the (possibly cancelling) result.
    """
    (x, w) = f64(x, w)
    return atol * max(1.0, float((x.abs() @ w.abs()).max()))


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
