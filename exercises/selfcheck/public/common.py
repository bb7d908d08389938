"""What every step's public checks share: the course's running example, the registry, helpers.

Rules for the public checks (one file per step in this package):

- Inputs are small and fixed (no randomness: ``rng`` is unused), so a learner sees the same
  result on every run. Published facts (SPEC.md, "Facts every solution reproduces") are checked
  with ``reveal=True``; so are the other fixed, public examples.
- Expected values are computed here, in the checking process, from fixed literals and torch's
  own seeded draws (a private ``torch.Generator``, never the global RNG).
- Common mistakes are recognised with the one catalogue the grader uses too, `selfcheck.mistakes`,
  on inputs whose sizes tell the mistakes apart (d_in, d_k, d_v and T all different).
- **Seeding.** Where a fact says "after ``torch.manual_seed(s)``", the seed must be set in the
  process where the learner's code runs, which in the grader is another process. Checks call
  ``subject.manual_seed(s)`` right before the learner call that draws (see `seeded`). Functions
  that take a ``seed=`` argument (``embed``, ``init_projections``) get it passed instead.
- A check that needs an earlier step's class or function (``MultiHeadAttentionWrapper`` builds
  ``SelfAttention``\\ s, ``decode_step`` takes a ``CausalSelfAttention``) says so when that earlier
  step is not implemented yet, instead of reporting this step as unstarted (see `public_check`).
- Check names never contain another step's id, so ``pytest -k <step id>`` selects one step.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Sequence

import torch

from ..compare import expect_draws, expect_parameters, load_own_weights
from ..errors import CheckFailed, EarlierStepUnfinished, NotImplementedYet
from ..mistakes import WRONG_DIM, mistake_note
from ..registry import CheckFunction, CheckRegistry
from ..steps import BY_ID, STEPS, StepInfo
from ..subject import Handle, Subject

PUBLIC = CheckRegistry()

# The course's running example (SPEC.md, "Facts every solution reproduces")
# ---------------------------------------------------------------------------------------

SENTENCE = "The sun rises in the east"
VOCAB = {"The": 0, "east": 1, "in": 2, "rises": 3, "sun": 4, "the": 5}
TOKEN_IDS = [0, 4, 3, 2, 5, 1]
EMBEDDING_ROW_0 = [0.3374, -0.1778, -0.3035]  # embed(encode(SENTENCE, VOCAB))[0]
SELF_ATTENTION_ROW_1 = [0.5313, 1.3607, 0.7891, 1.3110]  # manual_seed(123); SelfAttention(3, 2, 4)(x)[1]
FOUR_DECIMALS = {"rtol": 0.0, "atol": 1e-4}  # facts are published with 4 decimals

SEED = 123
D_IN, D_KQ, D_V = 3, 2, 4  # the article's SelfAttention(3, 2, 4)
T = len(TOKEN_IDS)
# Sizes that tell the common mistakes apart: d_in, d_k, d_v, T all different, and d_k != sqrt(d_v)
# (on SelfAttention(3, 2, 4), dividing by d_k = 2 and by sqrt(d_v) = 2 give the same numbers).
WIDE_IN, WIDE_KQ, WIDE_V, WIDE_T = 5, 3, 7, 4

_MODULE_STEPS = {step.module: step for step in STEPS}


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


def public_check(step: str, title: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a public check of ``step``; name an unfinished *earlier* step when it is the cause.

    Locally, a step's code runs on the learner's own earlier steps (the grader gives it stand-ins
    instead). When one of those raises ``NotImplementedError``, the learner should read "finish
    step 7 first", not "this step is not implemented yet".
    """

    def register(function: CheckFunction) -> CheckFunction:
        @functools.wraps(function)
        def run(subject: Subject, rng: torch.Generator) -> None:
            try:
                function(subject, rng)
            except NotImplementedYet as error:
                other = _unfinished_step(error)
                if other is None or other.id == step:
                    raise
                who = error.api_name or "your code"
                raise EarlierStepUnfinished(
                    f"{who} needs step {other.number} ({other.id}, attention/{other.module}.py), "
                    f"which is not implemented yet: finish step {other.number} first"
                ) from None

        PUBLIC.check(step, title)(run)
        return run

    return register


def _unfinished_step(error: NotImplementedYet) -> StepInfo | None:
    """The step whose file raised ``NotImplementedError`` (from the location, else the stub message)."""
    if error.where:
        module = os.path.splitext(error.where.split(",", 1)[0])[0]
        if module in _MODULE_STEPS:
            return _MODULE_STEPS[module]
    prefix = error.learner_message.split(":", 1)[0].strip()
    return BY_ID.get(prefix)


def seeded(subject: Subject, seed: int = SEED) -> Subject:
    """``torch.manual_seed(seed)`` where the learner's code runs; returns ``subject`` for chaining.

    Use it immediately before the learner call whose draws are compared::

        attn = seeded(subject).SelfAttention(3, 2, 4)

    In-process this seeds this process; in the grader it seeds the sandboxed child
    (`Subject.manual_seed`). Seeding this process with ``torch.manual_seed`` would not do that.
    """
    subject.manual_seed(seed)
    return subject


def embedding_rows(token_ids: Sequence[int], vocab_size: int = 50_000, dim: int = 3, seed: int = SEED) -> torch.Tensor:
    """The rows of ``nn.Embedding(vocab_size, dim)`` made right after ``torch.manual_seed(seed)``."""
    weight = torch.randn(vocab_size, dim, generator=torch.Generator().manual_seed(seed))  # what N(0, 1) init draws
    return weight[torch.tensor(list(token_ids))]


def published(values: list[float]) -> torch.Tensor:
    """A published fact as float64, so a failure message prints it as published (0.3374, not 0.33739998)."""
    return torch.tensor(values, dtype=torch.float64)


def copies(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Fresh copies of the module's fixed inputs: in-process, code that modifies its inputs must not change them."""
    return tuple(t.clone() for t in tensors)


def example_x() -> torch.Tensor:
    """The embedded example sentence, ``(6, 3)`` float32: the input of steps 7-13."""
    return embedding_rows(TOKEN_IDS)


def qkv_parameters(module: Handle, what: str, shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """The module's ``W_query``, ``W_key``, ``W_value`` parameters, checked to be there with ``shapes``."""
    return expect_parameters(module, what, shapes)


def own_weights(module: Handle, what: str, shapes: dict[str, tuple[int, ...]],
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """The checker's own weights, loaded into the module's parameters: SPEC's ``torch.rand`` draws after the seed.

    Forward checks compute their expected output from these (`selfcheck.compare.load_own_weights`), never from
    weights the module reports, so its forward pass is judged even when its own initialisation is wrong. A
    correct module drew the same numbers. Pass one ``generator`` to several modules to continue its draws.
    """
    return load_own_weights(module, what, shapes, generator or torch.Generator().manual_seed(SEED))


def expect_drawn(found: dict[str, torch.Tensor], what: str, shapes: dict[str, tuple[int, ...]]) -> None:
    """Fail unless the parameters hold ``torch.rand`` draws for ``shapes`` (in that order) after the seed."""
    expect_draws(found, SEED, shapes, what, parameter=False)


def fixed_randn(*shape: int, seed: int = 0, scale: float = 1.0) -> torch.Tensor:
    """A fixed public input: normal float32 values from a private generator (the same on every run)."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale


def conditioned(shape: tuple[int, ...], w_query: torch.Tensor, w_key: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """A fixed float32 input whose scaled scores have a spread near 1.5 (softmax neither flat nor saturated)."""
    x = fixed_randn(*shape, seed=seed)
    q, k = x.double() @ w_query.detach().double(), x.double() @ w_key.detach().double()
    spread = float((q @ k.mT / math.sqrt(w_query.shape[-1])).std())
    return (x * math.sqrt(1.5 / spread)).float() if math.isfinite(spread) and spread > 0 else x


def expect_rows_sum_to_one(weights: torch.Tensor, what: str) -> None:
    sums = weights.detach().to(torch.float64).sum(dim=-1)
    if not torch.allclose(sums, torch.ones_like(sums), atol=1e-5):
        columns = weights.detach().to(torch.float64).sum(dim=-2)
        hint = (mistake_note(WRONG_DIM) if weights.dim() >= 2
                and torch.allclose(columns, torch.ones_like(columns), atol=1e-5) else "")
        raise CheckFailed(f"{what}: every row should sum to 1 (softmax over the last dimension), but the sums are "
                          f"{[round(float(s), 4) for s in sums.flatten()[:6]]}{hint}")


def needs_api(subject: Subject, name: str, module: str) -> Handle:
    """``subject.<name>`` where the step's file imports it from an earlier step's module."""
    try:
        return getattr(subject, name)
    except CheckFailed:
        raise CheckFailed(
            f"{subject.origin} should import `{name}` (from attention.{module} import {name}): "
            f"this check passes a {name} to your code"
        ) from None


W_SHAPES = {"W_query": (D_IN, D_KQ), "W_key": (D_IN, D_KQ), "W_value": (D_IN, D_V)}
X_2x3 = torch.tensor([[1.0, 0.0, 2.0], [0.5, -1.0, 1.0]])  # (2, 3): a small public input of width d_in
