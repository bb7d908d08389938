"""Helpers shared by the hidden checks: randomness, learner modules, oracles.

The common mistakes live in the one catalogue shared with the public checks, `selfcheck.mistakes`
(and `selfcheck.magnitude` for scores of large magnitude: the mistakes, recognisers and input builders).

Everything here runs in the trusted process. Randomness comes only from the check's generator
``rng``; seeded parameter draws happen in the process where learner code runs through
`selfcheck.Subject.manual_seed`, and the matching reference draws happen here inside
``torch.random.fork_rng`` so that this process's global generator is left alone.

Oracles are computed in float64 from the float32 inputs the learner code receives, so a
float32, float64-inside, einsum or manual-softmax solution is within the stated tolerances.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import torch
from torch.nn import functional as F

from autograder import reference
from autograder.rng import isolated  # noqa: F401 - re-exported for the step modules
from selfcheck import CheckFailed, Handle, LocalSubject, Subject, expect_close, expect_handle
from selfcheck.compare import (
    ATOL,
    RTOL,
    expect_bool,  # noqa: F401 - re-exported for the step modules
    load_own_weights,
)
from selfcheck.compare import expect_draws as shared_expect_draws
from selfcheck.magnitude import (  # noqa: F401 - scores of large magnitude (catalogue side), re-exported
    FINITE_FILL,
    LARGE_SCORES_GAP,
    LARGE_SCORES_MAX,
    LARGE_SCORES_MIN,
    UNSTABLE_SOFTMAX,
    expect_weights_at_magnitude,
    large_causal_scores,
    large_output_mistake,
    large_score_cache,
    large_score_tokens,
    large_scores_mistake,
    large_weight_scores,
    magnitude_atol,
    negative_direction,
)
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
    module: Handle, what: str, shapes: Sequence[tuple[int, int]], rng: torch.Generator, prefix: str = ""
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The grader's own ``W_query``, ``W_key``, ``W_value`` (float64), drawn from ``rng`` and loaded into the module.

    Forward checks compute their expected output from these (`selfcheck.compare.load_own_weights`), never
    from weights the module reports; the parameters must be there with ``shapes``.
    """
    own = load_own_weights(module, what, dict(zip(("W_query", "W_key", "W_value"), shapes, strict=True)), rng,
                           prefix=prefix)
    return tuple(value.to(torch.float64) for value in own.values())  # type: ignore[return-value]


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


def expect_computed(
    actual: Any,
    expected: torch.Tensor,
    what: str,
    *,
    inputs: Sequence[torch.Tensor],
    mistakes: Mapping[str, torch.Tensor | None] | None = None,
    dtype: torch.dtype | str | None = "floating",
) -> None:
    """For a check of one aspect (the dtype, inputs left unchanged, rows summing to 1, invariance): the result
    must be computed, right or as a catalogued mistake computes it.

    A named mistake costs the check of its own aspect, not this one; a result that computes nothing
    (a constant, zeros, one of ``inputs`` handed back) fails here too, so no check pays such code.
    """
    for value in (mistakes or {}).values():
        if value is None or not _informative(value, inputs):
            continue
        try:
            expect_close(actual, value, what, dtype=dtype)
        except CheckFailed:
            continue
        return
    expect_close_named(actual, expected, what, mistakes=mistakes, dtype=dtype)


def _informative(value: torch.Tensor, inputs: Sequence[torch.Tensor]) -> bool:
    """False for what a do-nothing function could return: a constant tensor, or one of its inputs."""
    flat = value.detach().double().flatten()
    if flat.numel() < 2 or bool((flat == flat[0]).all()):
        return False
    return not any(tuple(x.shape) == tuple(value.shape) and torch.equal(x.double(), value.double()) for x in inputs)


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
