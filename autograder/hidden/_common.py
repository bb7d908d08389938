"""Helpers shared by the hidden checks: randomness, learner modules, comparisons, common mistakes.

Everything here runs in the trusted process. Randomness comes only from the check's generator
``rng``; seeded parameter draws happen in the process where learner code runs through
`selfcheck.Subject.manual_seed`, and the matching reference draws happen here inside
``torch.random.fork_rng`` so that this process's global generator is left alone.

Oracles are computed in float64 from the float32 inputs the learner code receives, so a
float32, float64-inside, einsum or manual-softmax solution is within the stated tolerances.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import torch
from torch.nn import functional as F

from autograder import reference
from selfcheck import CheckFailed, Handle, LocalSubject, Subject, expect_close, expect_handle, parameters
from selfcheck.compare import ATOL, RTOL
from selfcheck.steps import BY_ID, STEPS
from selfcheck.subject import LocalHandle

T = TypeVar("T")

MISTAKE_PREFIX = "This looks like a common mistake"

# Common mistakes, as the learner reads them.
WRONG_DIM = "softmax over the wrong dimension (every row, one query over all keys, must sum to 1: use dim=-1)"
SCALE_DK = "scores divided by d_k instead of sqrt(d_k)"
NO_SCALE = "scores not scaled by 1/sqrt(d_k)"
QK_SWAPPED = "queries and keys swapped (keys @ queries^T instead of queries @ keys^T)"
WEIGHTS_TRANSPOSED = "the weights are transposed before multiplying the values (weights^T @ values)"
DIAGONAL_MASKED = "the diagonal is masked too: every query must still see its own key (torch.triu(..., diagonal=1))"
INVERTED = "the mask's polarity is inverted: the earlier keys are blocked instead of the later ones"
ZERO_NOT_INF = "masked with 0 instead of -inf before the softmax (exp(0) = 1, so blocked keys still get weight)"
NO_RENORM = "masked after the softmax without renormalizing: the rows no longer sum to 1"
NO_MASK = "no causal mask: every query also sees the keys after it"
WRONG_ORDER = "the parameters are drawn in the wrong order (torch.rand for W_query, then W_key, then W_value)"
RANDN = "torch.randn instead of torch.rand (SPEC draws the projections uniformly from [0, 1))"


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
    """The module's ``W_query``, ``W_key``, ``W_value`` parameters, with their shapes checked."""
    params = parameters(module)
    found = []
    for name, shape in zip(("W_query", "W_key", "W_value"), shapes, strict=True):
        full = prefix + name
        if full not in params:
            listed = ", ".join(sorted(params)) or "none"
            raise CheckFailed(
                f"{what} should have an nn.Parameter named `{full}` (its parameters: {listed}); "
                "store the matrices as nn.Parameter attributes W_query, W_key, W_value"
            )
        value = params[full]
        if tuple(value.shape) != tuple(shape):
            raise CheckFailed(f"{what}: `{full}` has shape {tuple(value.shape)}, expected {tuple(shape)}")
        found.append(value.detach().to(torch.float64))
    return found[0], found[1], found[2]


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
    """Compare seeded draws by name; a wrong draw order, ``torch.randn`` or an ``extra`` mistake is named.

    ``expected`` is ordered like the draws SPEC prescribes; ``got`` maps the same names to what
    the learner code produced (plain tensors read back from the learner's process).
    """
    shapes = {name: tuple(value.shape) for name, value in expected.items()}
    names = tuple(expected)
    orders = itertools.permutations(names) if len(names) <= 3 else ()  # named orders only for W_query/W_key/W_value
    wrong = [(order, draws(seed, shapes, order)) for order in orders if order != names]
    randn_draws = draws(seed, shapes, names, torch.randn)
    for name in names:
        value = got.get(name)
        if value is None:
            raise CheckFailed(f"{what}: `{name}` is missing")
        if parameter and isinstance(value, torch.Tensor) and not isinstance(value, torch.nn.Parameter):
            raise CheckFailed(f"{what}: `{name}` should be an nn.Parameter (so that it is trained and saved)")
        mistakes: dict[str, torch.Tensor] = {
            f"{WRONG_ORDER}; these were drawn in the order {', '.join(order)}": made[name] for order, made in wrong
        }
        mistakes[RANDN] = randn_draws[name]
        for description, values in (extra or {}).items():
            mistakes[description] = values[name]
        expect_close_named(value, expected[name], f"{what}: `{name}`", mistakes=mistakes, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Comparisons
# ---------------------------------------------------------------------------------------------


def _matches(actual: torch.Tensor, produced: torch.Tensor, rtol: float, atol: float) -> bool:
    """Same shape and values; NaN matches NaN (a NaN-producing mistake can be recognised)."""
    if tuple(actual.shape) != tuple(produced.shape):
        return False
    a = actual.detach().to(torch.float64)
    p = produced.detach().to(torch.float64)
    return bool(torch.isclose(a, p, rtol=rtol, atol=atol, equal_nan=True).all())


def recognise(
    actual: Any, mistakes: Mapping[str, torch.Tensor | None] | None, expected: torch.Tensor | None = None,
    *, rtol: float = RTOL, atol: float = ATOL,
) -> str | None:
    """The mistakes whose result ``actual`` equals (and the correct result does not), joined; or ``None``.

    Two mistakes can coincide on one input; then both are named rather than a possibly wrong one.
    """
    if not mistakes or not isinstance(actual, torch.Tensor):
        return None
    found = []
    for description, produced in mistakes.items():
        if produced is None:
            continue
        if expected is not None and _matches(expected, produced, rtol, atol):
            continue  # indistinguishable from the right answer on this input
        if _matches(actual, produced, rtol, atol):
            found.append(description)
    return "; or ".join(found) if found else None


def with_mistake(message: str, mistake: str | None) -> str:
    return message if mistake is None else f"{message}\n  {MISTAKE_PREFIX}: {mistake}."


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
    """`selfcheck.expect_close`, recognising mistakes that produce NaN too."""
    try:
        return expect_close(actual, expected, what, rtol=rtol, atol=atol, dtype=dtype)
    except CheckFailed as failure:
        raise CheckFailed(with_mistake(str(failure), recognise(actual, mistakes, expected))) from None


def expect_bool(value: Any, what: str) -> bool:
    if type(value) is not bool:
        raise CheckFailed(f"{what} should return a Python bool (True or False), not {_describe(value)}")
    return value


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)} (use bool(...) or .item())"
    return f"a {type(value).__name__}"


# ---------------------------------------------------------------------------------------------
# Attention oracles and the common mistakes' results (float64)
# ---------------------------------------------------------------------------------------------


def f64(*tensors: torch.Tensor) -> list[torch.Tensor]:
    return [t.detach().to(torch.float64) for t in tensors]


def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, causal: bool = False) -> torch.Tensor:
    """The oracle: ``F.scaled_dot_product_attention`` in float64."""
    q, k, v = f64(q, k, v)
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


def _blocked(t_q: int, t_k: int, *, diagonal: int = 1, lower: bool = False) -> torch.Tensor:
    ones = torch.ones(t_q, t_k, dtype=torch.bool)
    return torch.tril(ones, diagonal=-diagonal) if lower else torch.triu(ones, diagonal=diagonal)


def weight_mistakes(scores: torch.Tensor, d_k: float, *, causal: bool) -> dict[str, torch.Tensor]:
    """Attention weights the common mistakes produce from ``scores`` (float64)."""
    (s,) = f64(scores)
    root = math.sqrt(d_k)
    t_q, t_k = s.shape[-2], s.shape[-1]
    if not causal:
        return {
            WRONG_DIM: torch.softmax(s / root, dim=-2),
            SCALE_DK: torch.softmax(s / d_k, dim=-1),
            NO_SCALE: torch.softmax(s, dim=-1),
        }
    inf = float("-inf")
    future = _blocked(t_q, t_k)
    plain = torch.softmax(s / root, dim=-1)
    kept = plain.masked_fill(future, 0.0)
    masked = (s / root).masked_fill(future, inf)
    return {
        DIAGONAL_MASKED: torch.softmax((s / root).masked_fill(_blocked(t_q, t_k, diagonal=0), inf), dim=-1),
        INVERTED: torch.softmax((s / root).masked_fill(_blocked(t_q, t_k, lower=True), inf), dim=-1),
        ZERO_NOT_INF: torch.softmax((s / root).masked_fill(future, 0.0), dim=-1),
        NO_RENORM: kept,
        NO_MASK: plain,
        WRONG_DIM: torch.softmax(masked, dim=-2),
        SCALE_DK: torch.softmax((s / d_k).masked_fill(future, inf), dim=-1),
        NO_SCALE: torch.softmax(s.masked_fill(future, inf), dim=-1),
    }


def output_mistakes(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, causal: bool = False, swapped: bool = True
) -> dict[str, torch.Tensor]:
    """Attention outputs the common mistakes produce (float64)."""
    q, k, v = f64(q, k, v)
    d_k = q.shape[-1]
    scores = q @ k.mT
    result = {name: weights @ v for name, weights in weight_mistakes(scores, d_k, causal=causal).items()}
    if swapped and q.shape[-2] == k.shape[-2]:
        swapped_scores = k @ q.mT
        if causal:
            swapped_scores = swapped_scores.masked_fill(_blocked(*swapped_scores.shape[-2:]), float("-inf"))
        result[QK_SWAPPED] = torch.softmax(swapped_scores / math.sqrt(d_k), dim=-1) @ v
        if not causal:
            result[WEIGHTS_TRANSPOSED] = torch.softmax(scores / math.sqrt(d_k), dim=-1).mT @ v
    return result


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
    if weights.shape[-2] == length and bool((weights[..., _blocked(length, length)] != 0).any()):
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
    allowed = ~_blocked(length, length)
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
    blocked_at = _blocked(length, length)
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
