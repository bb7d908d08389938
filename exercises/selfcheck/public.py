"""The public checks: the course's published facts and each step's basic shapes and types.

Learners run these with ``pytest`` in ``exercises/``; the notebooks and the grader run them too.
Every check is ``check(subject, rng)`` and sees the learner's code only through the `Subject`
interface (``subject.<api>(...)``, handles, ``parameters(h)``, ``buffers(h)``, ``len(h)``,
attributes), so it runs unchanged in-process and in the grader's sandbox.

Rules for this file:

- Inputs are small and fixed (no randomness: ``rng`` is unused), so a learner sees the same
  result on every run. Published facts (SPEC.md, "Facts every solution reproduces") are checked
  with ``reveal=True``; so are the other fixed, public examples.
- Expected values are computed here, in the checking process, from fixed literals and torch's
  own seeded draws (a private ``torch.Generator``, never the global RNG).
- **Seeding.** Where a fact says "after ``torch.manual_seed(s)``", the seed must be set in the
  process where the learner's code runs, which in the grader is another process. Checks call
  ``subject.manual_seed(s)`` right before the learner call that draws (see `_seeded`). Functions
  that take a ``seed=`` argument (``embed``, ``init_projections``) get it passed instead.
- A check that needs an earlier step's class or function (``MultiHeadAttentionWrapper`` builds
  ``SelfAttention``\\ s, ``decode_step`` takes a ``CausalSelfAttention``) says so when that earlier
  step is not implemented yet, instead of reporting this step as unstarted (see `_check`).
- Check names never contain another step's id, so ``pytest -k <step id>`` selects one step.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

import torch

from .compare import expect_close, expect_equal, expect_handle, expect_inputs_unchanged, expect_raises, expect_tensor
from .errors import CheckFailed, EarlierStepUnfinished, NotImplementedYet
from .registry import CheckFunction, CheckRegistry, run_check
from .steps import BY_ID, STEPS, StepInfo
from .subject import Handle, LocalSubject, Subject, buffers, describe_value, parameters

PUBLIC = CheckRegistry()

# ---------------------------------------------------------------------------------------
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

_MODULE_STEPS = {step.module: step for step in STEPS}


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


def _check(step: str, title: str) -> Callable[[CheckFunction], CheckFunction]:
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


def _seeded(subject: Subject, seed: int = SEED) -> Subject:
    """``torch.manual_seed(seed)`` where the learner's code runs; returns ``subject`` for chaining.

    Use it immediately before the learner call whose draws are compared::

        attn = _seeded(subject).SelfAttention(3, 2, 4)

    In-process this seeds this process; in the grader it seeds the sandboxed child
    (`Subject.manual_seed`). Seeding this process with ``torch.manual_seed`` would not do that.
    """
    subject.manual_seed(seed)
    return subject


def _rand_draws(*shapes: tuple[int, ...], seed: int = SEED) -> list[torch.Tensor]:
    """What ``torch.manual_seed(seed)``, then ``torch.rand(shape)`` per shape, draws (leaves the global RNG alone)."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.rand(shape, generator=generator) for shape in shapes]


def _embedding_rows(token_ids: Sequence[int], vocab_size: int = 50_000, dim: int = 3, seed: int = SEED) -> torch.Tensor:
    """The rows of ``nn.Embedding(vocab_size, dim)`` made right after ``torch.manual_seed(seed)``."""
    weight = torch.randn(vocab_size, dim, generator=torch.Generator().manual_seed(seed))  # what N(0, 1) init draws
    return weight[torch.tensor(list(token_ids))]


def _published(values: list[float]) -> torch.Tensor:
    """A published fact as float64, so a failure message prints it as published (0.3374, not 0.33739998)."""
    return torch.tensor(values, dtype=torch.float64)


def _copies(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Fresh copies of the module's fixed inputs: in-process, code that modifies its inputs must not change them."""
    return tuple(t.clone() for t in tensors)


def _example_x() -> torch.Tensor:
    """The embedded example sentence, ``(6, 3)`` float32: the input of steps 7-13."""
    return _embedding_rows(TOKEN_IDS)


def _attend(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, *, causal: bool = False) -> torch.Tensor:
    """Scaled dot-product attention in float64 (the checks' own reference)."""
    q, k, v = (t.detach().to(torch.float64) for t in (queries, keys, values))
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        blocked = torch.ones(scores.shape[-2:], dtype=torch.bool).triu(1)
        scores = scores.masked_fill(blocked, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def _qkv_parameters(module: Handle, what: str, shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """The module's ``W_query``, ``W_key``, ``W_value`` parameters, checked to be there with ``shapes``."""
    expect_handle(module, what, base="Module")
    found = parameters(module)
    for name, shape in shapes.items():
        if name not in found:
            have = ", ".join(found) or "none"
            raise CheckFailed(
                f"{what} should have an nn.Parameter attribute `{name}` of shape {shape} "
                f"(self.{name} = nn.Parameter(torch.rand(...))); its parameters are: {have}"
            )
        expect_tensor(found[name], f"{what}.{name}", shape=shape, dtype=torch.float32)
    return found


def _expect_drawn(
    found: dict[str, torch.Tensor], what: str, shapes: dict[str, tuple[int, ...]], *, where: str = "in __init__"
) -> None:
    """Fail unless the parameters hold ``torch.rand`` draws for ``shapes`` (in that order) after the seed."""
    in_order = ", ".join(shapes)
    for order in itertools.permutations(shapes):
        draws = dict(zip(order, _rand_draws(*(shapes[name] for name in order)), strict=True))
        if all(torch.equal(found[name].detach(), draws[name]) for name in shapes):
            if list(order) == list(shapes):
                return
            raise CheckFailed(f"{what}: the matrices were drawn in the order {', '.join(order)}; "
                              f"draw {in_order} with torch.rand in that order")
    wrong = next(name for name, draw in zip(shapes, _rand_draws(*shapes.values()), strict=True)
                 if not torch.equal(found[name].detach(), draw))
    raise CheckFailed(
        f"{what}.{wrong} is not what torch.rand draws after torch.manual_seed({SEED}): draw {in_order} "
        f"with torch.rand in that order, {where}, and draw nothing else before them"
    )


def _expect_rows_sum_to_one(weights: torch.Tensor, what: str) -> None:
    sums = weights.detach().to(torch.float64).sum(dim=-1)
    if not torch.allclose(sums, torch.ones_like(sums), atol=1e-5):
        raise CheckFailed(f"{what}: every row should sum to 1 (softmax over the last dimension), but the sums are "
                          f"{[round(float(s), 4) for s in sums.flatten()[:6]]}")


def _expect_type(value: Any, expected: type, what: str) -> None:
    if type(value) is not expected:
        raise CheckFailed(f"{what} should be a {expected.__name__}, but it is {describe_value(value)}")


def _needs_api(subject: Subject, name: str, module: str) -> Handle:
    """``subject.<name>`` where the step's file imports it from an earlier step's module."""
    try:
        return getattr(subject, name)
    except CheckFailed:
        raise CheckFailed(
            f"{subject.origin} should import `{name}` (from attention.{module} import {name}): "
            f"this check passes a {name} to your code"
        ) from None


# ---------------------------------------------------------------------------------------
# Step 1: tokens
# ---------------------------------------------------------------------------------------


@_check("tokens", "build_vocab('The sun rises in the east') maps the sorted unique words to 0..5")
def vocab_of_the_example(subject: Subject, rng: torch.Generator) -> None:
    vocab = subject.build_vocab(SENTENCE)
    expect_equal(vocab, VOCAB, f"build_vocab({SENTENCE!r})", reveal=True)


@_check("tokens", "encode gives the int64 tensor [0, 4, 3, 2, 5, 1] for the example sentence")
def encode_the_example(subject: Subject, rng: torch.Generator) -> None:
    ids = subject.encode(SENTENCE, dict(VOCAB))
    what = f"encode({SENTENCE!r}, vocab)"
    expect_tensor(ids, what, shape=(T,), dtype=torch.int64)
    expect_close(ids, torch.tensor(TOKEN_IDS), what, dtype=torch.int64, reveal=True)


@_check("tokens", "encode raises KeyError naming an unknown word")
def unknown_word_raises(subject: Subject, rng: torch.Generator) -> None:
    expect_raises(KeyError, lambda: subject.encode("The moon rises", dict(VOCAB)),
                  "encode('The moon rises', vocab) ('moon' is not in the vocabulary)", mentions="moon")


@_check("tokens", "encode('') is an empty int64 tensor")
def encode_empty_text(subject: Subject, rng: torch.Generator) -> None:
    expect_tensor(subject.encode("", dict(VOCAB)), "encode('', vocab)", shape=(0,), dtype=torch.int64)


# ---------------------------------------------------------------------------------------
# Step 2: embedding
# ---------------------------------------------------------------------------------------


@_check("embedding", "embed of the example ids has shape (6, 3) and row 0 [0.3374, -0.1778, -0.3035]")
def first_row_of_the_example(subject: Subject, rng: torch.Generator) -> None:
    ids = torch.tensor(TOKEN_IDS)
    x = subject.embed(ids)
    what = "embed(tensor([0, 4, 3, 2, 5, 1]))"
    expect_tensor(x, what, shape=(T, 3), dtype=torch.float32)
    expect_inputs_unchanged(subject, "embed")
    expect_close(x[0], _published(EMBEDDING_ROW_0), f"row 0 of {what}", reveal=True, **FOUR_DECIMALS)


@_check("embedding", "embed returns the rows of nn.Embedding(50000, 3) created after torch.manual_seed(123)")
def rows_follow_the_seed(subject: Subject, rng: torch.Generator) -> None:
    x = subject.embed(torch.tensor(TOKEN_IDS))
    what = "embed(tensor([0, 4, 3, 2, 5, 1]))"
    expect_tensor(x, what, shape=(T, 3), dtype=torch.float32)
    expect_close(x, _example_x(), what, reveal=True)


@_check("embedding", "embed takes a list of ids and honours vocab_size, dim and seed")
def list_ids_and_other_sizes(subject: Subject, rng: torch.Generator) -> None:
    x = subject.embed([2, 0, 2], vocab_size=10, dim=5, seed=0)
    what = "embed([2, 0, 2], vocab_size=10, dim=5, seed=0)"
    expect_tensor(x, what, shape=(3, 5), dtype=torch.float32)
    expect_close(x, _embedding_rows([2, 0, 2], vocab_size=10, dim=5, seed=0), what, reveal=True)


@_check("embedding", "embed's result is detached (no gradient) and the ids are left unchanged")
def detached_result(subject: Subject, rng: torch.Generator) -> None:
    x = subject.embed(torch.tensor(TOKEN_IDS))
    expect_inputs_unchanged(subject, "embed")
    expect_tensor(x, "embed(...)", dtype=torch.float32)
    if x.requires_grad:
        raise CheckFailed("embed(...) requires grad: return the rows detached (.detach()), as plain data")


# ---------------------------------------------------------------------------------------
# Step 3: projections
# ---------------------------------------------------------------------------------------

_W_SHAPES = {"W_query": (D_IN, D_KQ), "W_key": (D_IN, D_KQ), "W_value": (D_IN, D_V)}
_X_2x3 = torch.tensor([[1.0, 0.0, 2.0], [0.5, -1.0, 1.0]])
_WQ = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
_WK = torch.tensor([[0.0, 2.0], [1.0, 0.0], [0.5, 0.5]])
_WV = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0]])


def _three_parameters(result: Any, what: str) -> dict[str, torch.Tensor]:
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise CheckFailed(f"{what} should return a tuple (W_query, W_key, W_value), but it returned "
                          f"{describe_value(result)}" + (f" of {len(result)} items" if isinstance(result, (tuple, list))
                                                         else ""))
    found = dict(zip(_W_SHAPES, result, strict=True))
    for name, shape in _W_SHAPES.items():
        expect_tensor(found[name], f"{name} from {what}", shape=shape, dtype=torch.float32)
        if not isinstance(found[name], torch.nn.Parameter):
            raise CheckFailed(f"{name} from {what} should be an nn.Parameter (nn.Parameter(torch.rand(...))), "
                              "but it is a plain tensor")
    return found


@_check("projections", "init_projections(3, 2, 4) returns nn.Parameters of shapes (3, 2), (3, 2), (3, 4)")
def parameter_shapes(subject: Subject, rng: torch.Generator) -> None:
    _three_parameters(subject.init_projections(D_IN, D_KQ, D_V), "init_projections(3, 2, 4)")


@_check("projections", "init_projections(3, 2, 4, seed=123) draws torch.rand for W_query, W_key, W_value in order")
def seeded_draws(subject: Subject, rng: torch.Generator) -> None:
    what = "init_projections(3, 2, 4, seed=123)"
    found = _three_parameters(subject.init_projections(D_IN, D_KQ, D_V, seed=SEED), what)
    _expect_drawn(found, what, _W_SHAPES, where="right after torch.manual_seed(seed)")


@_check("projections", "project_qkv(x, W_query, W_key, W_value) returns x @ W for each, shapes (2, 2), (2, 2), (2, 4)")
def project_fixed_input(subject: Subject, rng: torch.Generator) -> None:
    result = subject.project_qkv(*_copies(_X_2x3, _WQ, _WK, _WV))
    expect_inputs_unchanged(subject, "project_qkv")
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise CheckFailed(f"project_qkv should return (queries, keys, values), not {describe_value(result)}")
    for name, got, weight in zip(("queries", "keys", "values"), result, (_WQ, _WK, _WV), strict=True):
        expect_close(got, _X_2x3 @ weight, f"{name} from project_qkv(x (2, 3), ...)", reveal=True)


@_check("projections", "project_qkv keeps leading batch dimensions: x (2, 2, 3) gives (2, 2, 2), (2, 2, 2), (2, 2, 4)")
def project_batched_input(subject: Subject, rng: torch.Generator) -> None:
    x = torch.stack([_X_2x3, -_X_2x3])
    result = subject.project_qkv(x, *_copies(_WQ, _WK, _WV))
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise CheckFailed(f"project_qkv should return (queries, keys, values), not {describe_value(result)}")
    for name, got, weight in zip(("queries", "keys", "values"), result, (_WQ, _WK, _WV), strict=True):
        expect_close(got, x @ weight, f"{name} from project_qkv(x (2, 2, 3), ...)")


# ---------------------------------------------------------------------------------------
# Step 4: scores
# ---------------------------------------------------------------------------------------

_QUERIES = torch.tensor([[1.0, 2.0], [0.0, -1.0]])  # (T_q=2, d_k=2)
_KEYS = torch.tensor([[1.0, 0.0], [2.0, 1.0], [-1.0, 3.0]])  # (T_k=3, d_k=2)


@_check("scores", "one query vector (2,) against keys (3, 2) gives 3 scores, one per key")
def one_query_vector(subject: Subject, rng: torch.Generator) -> None:
    query = _QUERIES[0].clone()
    got = subject.attention_scores(query, _KEYS.clone())
    expect_inputs_unchanged(subject, "attention_scores")
    expect_close(got, _KEYS @ query, "attention_scores(query (2,), keys (3, 2))", reveal=True)


@_check("scores", "queries (2, 2) against keys (3, 2) give a (2, 3) matrix: row i holds query i's scores")
def query_matrix(subject: Subject, rng: torch.Generator) -> None:
    got = subject.attention_scores(*_copies(_QUERIES, _KEYS))
    expect_inputs_unchanged(subject, "attention_scores")
    expect_close(got, _QUERIES @ _KEYS.T, "attention_scores(queries (2, 2), keys (3, 2))", reveal=True)


@_check("scores", "leading batch dimensions are kept: (2, 2, 2) against (2, 3, 2) gives (2, 2, 3)")
def batched_scores(subject: Subject, rng: torch.Generator) -> None:
    queries, keys = torch.stack([_QUERIES, 2 * _QUERIES]), torch.stack([_KEYS, _KEYS.flip(0)])
    got = subject.attention_scores(queries, keys)
    expect_close(got, queries @ keys.transpose(-2, -1), "attention_scores(queries (2, 2, 2), keys (2, 3, 2))")


# ---------------------------------------------------------------------------------------
# Step 5: weights
# ---------------------------------------------------------------------------------------

_SCORES = torch.tensor([[1.0, 2.0, 4.0], [3.0, 0.0, -1.0]])  # (2, 3)


def _softmax_mistakes(scores: torch.Tensor, d_k: int) -> dict[str, torch.Tensor]:
    return {
        "the scores were not divided by sqrt(d_k)": torch.softmax(scores, dim=-1),
        "the scores were divided by d_k instead of sqrt(d_k)": torch.softmax(scores / d_k, dim=-1),
        "softmax over the wrong dimension (use dim=-1)": torch.softmax(scores / math.sqrt(d_k), dim=0),
    }


@_check("weights", "attention_weights(scores (2, 3), d_k=4) has shape (2, 3) and every row sums to 1")
def rows_sum_to_one(subject: Subject, rng: torch.Generator) -> None:
    got = subject.attention_weights(_SCORES.clone(), 4)
    expect_inputs_unchanged(subject, "attention_weights")
    expect_tensor(got, "attention_weights(scores (2, 3), d_k=4)", shape=(2, 3), dtype="floating")
    _expect_rows_sum_to_one(got, "attention_weights(scores (2, 3), d_k=4)")


@_check("weights", "the weights are softmax(scores / sqrt(d_k)) over the last dimension")
def scaled_softmax(subject: Subject, rng: torch.Generator) -> None:
    got = subject.attention_weights(_SCORES.clone(), 4)
    expect_close(got, torch.softmax(_SCORES / 2.0, dim=-1), "attention_weights(scores (2, 3), d_k=4)",
                 mistakes=_softmax_mistakes(_SCORES, 4), reveal=True)


@_check("weights", "one score row (3,) gives one weight row (3,); a batch (2, 2, 3) keeps its shape")
def vector_and_batch(subject: Subject, rng: torch.Generator) -> None:
    row = _SCORES[0].clone()
    expect_close(subject.attention_weights(row, 4), torch.softmax(row / 2.0, dim=-1),
                 "attention_weights(scores (3,), d_k=4)")
    batch = torch.stack([_SCORES, _SCORES.flip(-1)])
    expect_close(subject.attention_weights(batch, 4), torch.softmax(batch / 2.0, dim=-1),
                 "attention_weights(scores (2, 2, 3), d_k=4)", mistakes=_softmax_mistakes(batch, 4))


# ---------------------------------------------------------------------------------------
# Step 6: context
# ---------------------------------------------------------------------------------------

_WEIGHT_ROWS = torch.tensor([[0.5, 0.25, 0.25], [0.0, 1.0, 0.0]])  # (T_q=2, T=3)
_VALUES = torch.tensor([[2.0, 0.0], [4.0, 8.0], [0.0, -4.0]])  # (T=3, d_v=2)


@_check("context", "one weight row (3,) and values (3, 2) give one context vector (2,)")
def one_weight_row(subject: Subject, rng: torch.Generator) -> None:
    row = _WEIGHT_ROWS[0].clone()
    got = subject.context_vectors(row, _VALUES.clone())
    expect_inputs_unchanged(subject, "context_vectors")
    expect_close(got, row @ _VALUES, "context_vectors(weights (3,), values (3, 2))", reveal=True)


@_check("context", "weights (2, 3) and values (3, 2) give (2, 2): row i is the weighted sum of the value rows")
def weight_matrix(subject: Subject, rng: torch.Generator) -> None:
    got = subject.context_vectors(*_copies(_WEIGHT_ROWS, _VALUES))
    expect_inputs_unchanged(subject, "context_vectors")
    expect_close(got, _WEIGHT_ROWS @ _VALUES, "context_vectors(weights (2, 3), values (3, 2))", reveal=True)


@_check("context", "leading batch dimensions are kept: (2, 2, 3) with (2, 3, 2) gives (2, 2, 2)")
def batched_context(subject: Subject, rng: torch.Generator) -> None:
    weights, values = torch.stack([_WEIGHT_ROWS, _WEIGHT_ROWS.flip(-1)]), torch.stack([_VALUES, 2 * _VALUES])
    got = subject.context_vectors(weights, values)
    expect_close(got, weights @ values, "context_vectors(weights (2, 2, 3), values (2, 3, 2))")


# ---------------------------------------------------------------------------------------
# Step 7: self_attention
# ---------------------------------------------------------------------------------------


@_check("self_attention", "SelfAttention(3, 2, 4) after manual_seed(123): W_query, W_key, W_value by torch.rand")
def parameters_follow_the_seed(subject: Subject, rng: torch.Generator) -> None:
    attn = _seeded(subject).SelfAttention(D_IN, D_KQ, D_V)  # seeded where the learner code runs
    found = _qkv_parameters(attn, "SelfAttention(3, 2, 4)", _W_SHAPES)
    _expect_drawn(found, "SelfAttention(3, 2, 4)", _W_SHAPES)


@_check("self_attention", "on the example sentence, the output is (6, 4) with row 1 [0.5313, 1.3607, 0.7891, 1.3110]")
def row_one_of_the_example(subject: Subject, rng: torch.Generator) -> None:
    attn = _seeded(subject).SelfAttention(D_IN, D_KQ, D_V)  # seeded where the learner code runs
    x = _example_x()
    out = attn(x)
    expect_inputs_unchanged(subject, "SelfAttention.forward")
    expect_tensor(out, "SelfAttention(3, 2, 4)(x (6, 3))", shape=(T, D_V), dtype=torch.float32)
    expect_close(out[1], _published(SELF_ATTENTION_ROW_1), "row 1 of SelfAttention(3, 2, 4)(x)", reveal=True,
                 **FOUR_DECIMALS)


@_check("self_attention", "forward(x) is softmax(queries keys^T / sqrt(d_out_kq)) values, all tokens attending to all")
def output_from_parameters(subject: Subject, rng: torch.Generator) -> None:
    attn = _seeded(subject).SelfAttention(D_IN, D_KQ, D_V)
    found = _qkv_parameters(attn, "SelfAttention(3, 2, 4)", _W_SHAPES)
    x = _example_x()
    q, k, v = (x @ found[name].detach() for name in _W_SHAPES)
    scores = (q @ k.T).double()
    mistakes = {
        "the scores were not divided by sqrt(d_out_kq)": torch.softmax(scores, -1) @ v.double(),
        "softmax over the wrong dimension (use dim=-1)": torch.softmax(scores / math.sqrt(D_KQ), 0) @ v.double(),
    }
    expect_close(attn(x), _attend(q, k, v), "SelfAttention(3, 2, 4)(x (6, 3))", mistakes=mistakes)


@_check("self_attention", "a batch (2, 6, 3) gives (2, 6, 4), each item as if it were alone")
def batched_input(subject: Subject, rng: torch.Generator) -> None:
    attn = _seeded(subject).SelfAttention(D_IN, D_KQ, D_V)
    x = _example_x()
    batch = torch.stack([x, x.flip(0)])
    out = attn(batch)
    expect_tensor(out, "SelfAttention(3, 2, 4)(x (2, 6, 3))", shape=(2, T, D_V), dtype=torch.float32)
    expected = torch.stack([attn(batch[0]), attn(batch[1])])
    expect_close(out, expected, "SelfAttention(3, 2, 4)(x (2, 6, 3)) compared with each item alone")


# ---------------------------------------------------------------------------------------
# Step 8: multi_head
# ---------------------------------------------------------------------------------------

HEADS = 2
_WIDE_SHAPES = {"W_query": (D_IN, HEADS * D_KQ), "W_key": (D_IN, HEADS * D_KQ), "W_value": (D_IN, HEADS * D_V)}


def _wrapper_heads(wrapper: Handle) -> list[Handle]:
    what = "MultiHeadAttentionWrapper(3, 2, 4, num_heads=2)"
    expect_handle(wrapper, what, base="Module")
    heads = expect_handle(wrapper.heads, f"{what}.heads", base="ModuleList")
    if len(heads) != HEADS:
        raise CheckFailed(f"{what}.heads should hold {HEADS} heads, but it holds {len(heads)}")
    found = [heads[i] for i in range(HEADS)]
    for i, head in enumerate(found):
        expect_handle(head, f"{what}.heads[{i}]", base="SelfAttention")
    return found


@_check("multi_head", "MultiHeadAttentionWrapper(3, 2, 4, num_heads=2).heads is an nn.ModuleList of 2 SelfAttention")
def wrapper_heads(subject: Subject, rng: torch.Generator) -> None:
    _wrapper_heads(subject.MultiHeadAttentionWrapper(D_IN, D_KQ, D_V, HEADS))


@_check("multi_head", "the wrapper's output (6, 8) is its heads' outputs side by side, head 0 first")
def wrapper_concatenates(subject: Subject, rng: torch.Generator) -> None:
    wrapper = _seeded(subject).MultiHeadAttentionWrapper(D_IN, D_KQ, D_V, HEADS)
    heads = _wrapper_heads(wrapper)
    x = _example_x()
    out = wrapper(x)
    expect_inputs_unchanged(subject, "MultiHeadAttentionWrapper.forward")
    expect_tensor(out, "MultiHeadAttentionWrapper(3, 2, 4, num_heads=2)(x (6, 3))", shape=(T, HEADS * D_V),
                  dtype=torch.float32)
    expect_close(out, torch.cat([head(x) for head in heads], dim=-1),
                 "MultiHeadAttentionWrapper output compared with torch.cat of its heads' outputs on the last dimension")


@_check("multi_head", "MultiHeadAttention(3, 2, 4, num_heads=2) draws W_query, W_key (3, 4), W_value (3, 8)")
def wide_parameters(subject: Subject, rng: torch.Generator) -> None:
    what = "MultiHeadAttention(3, 2, 4, num_heads=2)"
    mha = _seeded(subject).MultiHeadAttention(D_IN, D_KQ, D_V, HEADS)  # seeded where the learner code runs
    found = _qkv_parameters(mha, what, _WIDE_SHAPES)
    _expect_drawn(found, what, _WIDE_SHAPES)


def _multi_head_reference(found: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Head h attends with column block h of each wide matrix; outputs side by side."""
    q, k, v = (x @ found[name].detach() for name in _WIDE_SHAPES)
    blocks = [
        _attend(q[..., h * D_KQ:(h + 1) * D_KQ], k[..., h * D_KQ:(h + 1) * D_KQ], v[..., h * D_V:(h + 1) * D_V])
        for h in range(HEADS)
    ]
    return torch.cat(blocks, dim=-1)


@_check("multi_head", "MultiHeadAttention: head h uses column block h of each matrix; (6, 3) -> (6, 8), batches too")
def efficient_output(subject: Subject, rng: torch.Generator) -> None:
    what = "MultiHeadAttention(3, 2, 4, num_heads=2)"
    mha = _seeded(subject).MultiHeadAttention(D_IN, D_KQ, D_V, HEADS)
    found = _qkv_parameters(mha, what, _WIDE_SHAPES)
    x = _example_x()
    out = mha(x)
    expect_inputs_unchanged(subject, "MultiHeadAttention.forward")
    expect_close(out, _multi_head_reference(found, x), f"{what}(x (6, 3))")
    batch = torch.stack([x, x.flip(0)])
    expect_close(mha(batch), _multi_head_reference(found, batch), f"{what}(x (2, 6, 3))")


@_check("multi_head", "MultiHeadAttention.from_wrapper(wrapper) gives the same output as the wrapper")
def from_wrapper_matches(subject: Subject, rng: torch.Generator) -> None:
    wrapper = _seeded(subject).MultiHeadAttentionWrapper(D_IN, D_KQ, D_V, HEADS)
    mha = subject.MultiHeadAttention.from_wrapper(wrapper)
    expect_handle(mha, "MultiHeadAttention.from_wrapper(wrapper)", base="MultiHeadAttention")
    x = _example_x()
    expect_close(mha(x), wrapper(x), "MultiHeadAttention.from_wrapper(wrapper)(x) compared with wrapper(x)")


# ---------------------------------------------------------------------------------------
# Step 9: cross_attention
# ---------------------------------------------------------------------------------------

_X_1 = _X_2x3  # (T_1=2, d_in=3): the queries' sequence
_X_2 = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0], [2.0, 0.0, 1.0], [0.5, 0.5, 0.5], [-1.0, 0.0, 1.0]])  # (5, 3)


@_check("cross_attention", "CrossAttention(3, 2, 4) after manual_seed(123): W_query, W_key, W_value by torch.rand")
def cross_parameters(subject: Subject, rng: torch.Generator) -> None:
    attn = _seeded(subject).CrossAttention(D_IN, D_KQ, D_V)  # seeded where the learner code runs
    found = _qkv_parameters(attn, "CrossAttention(3, 2, 4)", _W_SHAPES)
    _expect_drawn(found, "CrossAttention(3, 2, 4)", _W_SHAPES)


@_check("cross_attention", "forward(x_1 (2, 3), x_2 (5, 3)) gives (2, 4): one output per query token of x_1")
def output_shape(subject: Subject, rng: torch.Generator) -> None:
    attn = _seeded(subject).CrossAttention(D_IN, D_KQ, D_V)
    out = attn(*_copies(_X_1, _X_2))
    expect_inputs_unchanged(subject, "CrossAttention.forward")
    expect_tensor(out, "CrossAttention(3, 2, 4)(x_1 (2, 3), x_2 (5, 3))", shape=(2, D_V), dtype=torch.float32)


@_check("cross_attention", "queries come from x_1, keys and values from x_2")
def queries_from_first_input(subject: Subject, rng: torch.Generator) -> None:
    attn = _seeded(subject).CrossAttention(D_IN, D_KQ, D_V)
    found = _qkv_parameters(attn, "CrossAttention(3, 2, 4)", _W_SHAPES)
    w_q, w_k, w_v = (found[name].detach() for name in _W_SHAPES)
    expected = _attend(_X_1 @ w_q, _X_2 @ w_k, _X_2 @ w_v)
    expect_close(attn(*_copies(_X_1, _X_2)), expected, "CrossAttention(3, 2, 4)(x_1 (2, 3), x_2 (5, 3))")


@_check("cross_attention", "a batch: x_1 (2, 2, 3) and x_2 (2, 5, 3) give (2, 2, 4)")
def batched_inputs(subject: Subject, rng: torch.Generator) -> None:
    attn = _seeded(subject).CrossAttention(D_IN, D_KQ, D_V)
    found = _qkv_parameters(attn, "CrossAttention(3, 2, 4)", _W_SHAPES)
    w_q, w_k, w_v = (found[name].detach() for name in _W_SHAPES)
    x_1, x_2 = torch.stack([_X_1, -_X_1]), torch.stack([_X_2, _X_2.flip(0)])
    expected = _attend(x_1 @ w_q, x_2 @ w_k, x_2 @ w_v)
    expect_close(attn(x_1, x_2), expected, "CrossAttention(3, 2, 4)(x_1 (2, 2, 3), x_2 (2, 5, 3))")


# ---------------------------------------------------------------------------------------
# Step 10: causal_pairs
# ---------------------------------------------------------------------------------------


@_check("causal_pairs", "causal_pairs(7) lists (0, 0), (1, 0), (1, 1), ..., (6, 6) as tuples, ordered by i then j")
def pairs_for_seven(subject: Subject, rng: torch.Generator) -> None:
    got = subject.causal_pairs(7)
    expected = [(i, j) for i in range(7) for j in range(i + 1)]
    _expect_type(got, list, "causal_pairs(7)")
    if got and not all(type(pair) is tuple for pair in got):
        raise CheckFailed("causal_pairs(7) should hold tuples (i, j), but it holds "
                          f"{describe_value(next(p for p in got if type(p) is not tuple))}")
    expect_equal(got, expected, "causal_pairs(7)", reveal=True)


@_check("causal_pairs", "count_causal_pairs(7) == 28 (an int), and 0 tokens give 0 pairs")
def count_for_seven(subject: Subject, rng: torch.Generator) -> None:
    expect_equal(subject.count_causal_pairs(7), 28, "count_causal_pairs(7)", reveal=True)
    expect_equal(subject.count_causal_pairs(0), 0, "count_causal_pairs(0)", reveal=True)


@_check("causal_pairs", "keys_attended(5) == 6: the query at position 5 is compared with keys 0..5")
def keys_for_position_five(subject: Subject, rng: torch.Generator) -> None:
    expect_equal(subject.keys_attended(5), 6, "keys_attended(5)", reveal=True)
    expect_equal(subject.keys_attended(0), 1, "keys_attended(0)", reveal=True)


@_check("causal_pairs", "a negative or non-integer argument raises ValueError")
def bad_arguments_raise(subject: Subject, rng: torch.Generator) -> None:
    for name in ("causal_pairs", "count_causal_pairs", "keys_attended"):
        function = getattr(subject, name)
        expect_raises(ValueError, lambda f=function: f(-1), f"{name}(-1)")
        expect_raises((ValueError, TypeError), lambda f=function: f(2.5), f"{name}(2.5)")


# ---------------------------------------------------------------------------------------
# Step 11: causal_mask
# ---------------------------------------------------------------------------------------

_SQUARE = torch.tensor([[1.0, 2.0, 4.0], [3.0, 0.0, -1.0], [0.5, 1.5, 2.0]])  # (3, 3) scores
_LOWER_3 = torch.tril(torch.ones(3, 3))


@_check("causal_mask", "tril_mask(3) is float32 ones on and below the diagonal; causal_mask(3) is bool, True above it")
def tril_and_bool_masks(subject: Subject, rng: torch.Generator) -> None:
    tril = subject.tril_mask(3)
    expect_tensor(tril, "tril_mask(3)", shape=(3, 3), dtype=torch.float32)
    expect_close(tril, _LOWER_3, "tril_mask(3)", dtype=torch.float32, reveal=True)
    blocked = subject.causal_mask(3)
    expect_tensor(blocked, "causal_mask(3)", shape=(3, 3), dtype=torch.bool)
    if not torch.equal(blocked, _LOWER_3 == 0):
        raise CheckFailed("causal_mask(3) should be True exactly above the diagonal (a key after the query is "
                          f"blocked)\n  expected: {(_LOWER_3 == 0).tolist()}\n  got:      {blocked.tolist()}")


@_check("causal_mask", "mask_scores returns a new tensor with -inf above the diagonal; non-square raises ValueError")
def minus_inf_above_diagonal(subject: Subject, rng: torch.Generator) -> None:
    scores = _SQUARE.clone()
    got = subject.mask_scores(scores)
    expect_inputs_unchanged(subject, "mask_scores")
    expect_close(got, _SQUARE.masked_fill(_LOWER_3 == 0, float("-inf")), "mask_scores(scores (3, 3))", reveal=True)
    expect_raises(ValueError, lambda: subject.mask_scores(torch.zeros(2, 3)), "mask_scores(scores (2, 3))")


@_check("causal_mask", "mask_and_renormalize zeroes the weights above the diagonal and makes each row sum to 1")
def renormalized_rows(subject: Subject, rng: torch.Generator) -> None:
    weights = torch.softmax(_SQUARE, dim=-1)
    got = subject.mask_and_renormalize(weights)
    expect_inputs_unchanged(subject, "mask_and_renormalize")
    masked = weights * _LOWER_3
    expect_close(got, masked / masked.sum(-1, keepdim=True), "mask_and_renormalize(weights (3, 3))", reveal=True)


@_check("causal_mask", "-inf masking before softmax gives the same weights as masking after softmax and renormalizing")
def masking_before_equals_after(subject: Subject, rng: torch.Generator) -> None:
    scores = torch.stack([_SQUARE, _SQUARE.T])  # (2, 3, 3)
    expected = torch.softmax(scores.masked_fill(_LOWER_3 == 0, float("-inf")) / 2.0, dim=-1)
    before = subject.causal_attention_weights(scores, 4)
    expect_inputs_unchanged(subject, "causal_attention_weights")
    expect_close(before, expected, "causal_attention_weights(scores (2, 3, 3), d_k=4)", reveal=True, mistakes={
        "the scores were not divided by sqrt(d_k)": torch.softmax(scores.masked_fill(_LOWER_3 == 0, -math.inf), -1),
    })
    after = subject.mask_and_renormalize(torch.softmax(scores / 2.0, dim=-1))
    expect_close(after, expected, "mask_and_renormalize(softmax(scores / sqrt(4))) for scores (2, 3, 3)", reveal=True)
    expect_raises(ValueError, lambda: subject.causal_attention_weights(torch.zeros(3, 2), 4),
                  "causal_attention_weights(scores (3, 2), d_k=4)")


@_check("causal_mask", "is_causal returns a bool: True when everything above the diagonal is 0 or -inf")
def is_causal_answers(subject: Subject, rng: torch.Generator) -> None:
    cases = [
        ("a lower-triangular (3, 3) matrix", _LOWER_3.clone(), True),
        ("a (3, 3) matrix with -inf above the diagonal", _SQUARE.masked_fill(_LOWER_3 == 0, float("-inf")), True),
        ("a (3, 3) matrix of ones", torch.ones(3, 3), False),
        ("a batch (2, 3, 3) where only the second matrix has a 1 above the diagonal",
         torch.stack([_LOWER_3, _LOWER_3 + torch.eye(3).roll(1, dims=1)]), False),
    ]
    for description, matrix, expected in cases:
        got = subject.is_causal(matrix)
        expect_inputs_unchanged(subject, "is_causal")
        _expect_type(got, bool, f"is_causal({description})")
        if got is not expected:
            raise CheckFailed(f"is_causal({description}) should be {expected}, but it is {got}")


# ---------------------------------------------------------------------------------------
# Step 12: causal_attention
# ---------------------------------------------------------------------------------------

_ROW_WEIGHTS = (0.1, 0.6, 0.3)
_ROW_VALUES = ((1, 2), (3, 0), (4, 5))  # passed as fresh lists


@_check("causal_attention", "token_output([0.1, 0.6, 0.3], [[1, 2], [3, 0], [4, 5]]) is [3.1, 1.7]")
def token_output_example(subject: Subject, rng: torch.Generator) -> None:
    got = subject.token_output(list(_ROW_WEIGHTS), [list(row) for row in _ROW_VALUES])
    what = "token_output([0.1, 0.6, 0.3], [[1, 2], [3, 0], [4, 5]])"
    expect_tensor(got, what, shape=(2,), dtype="floating")
    expect_close(got, _published([3.1, 1.7]), what, reveal=True)


@_check("causal_attention", "token_output uses only the first i+1 value rows; too few rows raise ValueError")
def token_output_ignores_later_rows(subject: Subject, rng: torch.Generator) -> None:
    weights, values = torch.tensor([0.4, 0.6]), torch.tensor(_ROW_VALUES, dtype=torch.float32)
    got = subject.token_output(weights, values)
    expect_inputs_unchanged(subject, "token_output")
    expect_close(got, _published([2.2, 0.8]), "token_output(tensor([0.4, 0.6]), values (3, 2))", reveal=True)
    expect_raises(ValueError, lambda: subject.token_output(list(_ROW_WEIGHTS), [list(row) for row in _ROW_VALUES[:2]]),
                  "token_output(3 weights, values with 2 rows)")


@_check("causal_attention", "CausalSelfAttention(3, 2, 4, 6) has W_query, W_key, W_value and a bool buffer mask (6, 6)")
def mask_buffer(subject: Subject, rng: torch.Generator) -> None:
    what = "CausalSelfAttention(3, 2, 4, context_length=6)"
    attn = _seeded(subject).CausalSelfAttention(D_IN, D_KQ, D_V, T)  # seeded where the learner code runs
    found = _qkv_parameters(attn, what, _W_SHAPES)
    _expect_drawn(found, what, _W_SHAPES)
    registered = buffers(attn)
    if "mask" not in registered:
        raise CheckFailed(f"{what} should register a buffer `mask` (self.register_buffer('mask', causal_mask(6))); "
                          f"its buffers are: {', '.join(registered) or 'none'}")
    mask = expect_tensor(registered["mask"], f"{what}.mask", shape=(T, T), dtype=torch.bool)
    if not torch.equal(mask, torch.ones(T, T).triu(1).bool()):
        raise CheckFailed(f"{what}.mask should be True exactly above the diagonal, like causal_mask(6)")


@_check("causal_attention", "forward(x (6, 3)) gives (6, 4): token i attends to tokens 0..i only; fewer tokens work")
def attends_only_to_the_past(subject: Subject, rng: torch.Generator) -> None:
    what = "CausalSelfAttention(3, 2, 4, context_length=6)"
    attn = _seeded(subject).CausalSelfAttention(D_IN, D_KQ, D_V, T)
    found = _qkv_parameters(attn, what, _W_SHAPES)
    x = _example_x()
    q, k, v = (x @ found[name].detach() for name in _W_SHAPES)
    out = attn(x)
    expect_inputs_unchanged(subject, "CausalSelfAttention.forward")
    expect_close(out, _attend(q, k, v, causal=True), f"{what}(x (6, 3))", mistakes={
        "the mask was not applied (every token attends to every token)": _attend(q, k, v),
    })
    expect_close(attn(x[:4]), _attend(q[:4], k[:4], v[:4], causal=True), f"{what}(x (4, 3)), fewer tokens than 6")


@_check("causal_attention", "a batch (2, 6, 3) gives (2, 6, 4); 7 tokens with context_length 6 raise ValueError")
def batch_and_too_long(subject: Subject, rng: torch.Generator) -> None:
    what = "CausalSelfAttention(3, 2, 4, context_length=6)"
    attn = _seeded(subject).CausalSelfAttention(D_IN, D_KQ, D_V, T)
    found = _qkv_parameters(attn, what, _W_SHAPES)
    x = _example_x()
    batch = torch.stack([x, x.flip(0)])
    q, k, v = (batch @ found[name].detach() for name in _W_SHAPES)
    expect_close(attn(batch), _attend(q, k, v, causal=True), f"{what}(x (2, 6, 3))")
    too_long = torch.cat([x, x[:1]])
    expect_raises(ValueError, lambda: attn(too_long), f"{what}(x (7, 3))")


# ---------------------------------------------------------------------------------------
# Step 13: kv_cache
# ---------------------------------------------------------------------------------------

_KEY_1, _VALUE_1 = torch.tensor([1.0, 2.0]), torch.tensor([1.0, 0.0, 0.0, 3.0])
_KEY_2, _VALUE_2 = torch.tensor([0.5, -1.0]), torch.tensor([0.0, 2.0, 1.0, 1.0])


@_check("kv_cache", "KVCache() starts empty: len 0, .keys and .values None")
def empty_cache(subject: Subject, rng: torch.Generator) -> None:
    cache = expect_handle(subject.KVCache(), "KVCache()")
    expect_equal(len(cache), 0, "len(KVCache())", reveal=True)
    for name in ("keys", "values"):
        value = getattr(cache, name)
        if value is not None:
            raise CheckFailed(f"KVCache().{name} should be None while the cache is empty, but it is "
                              f"{describe_value(value)}")


@_check("kv_cache", "two appends of a key (2,) and a value (4,) give len 2, .keys (2, 2) and .values (2, 4) in order")
def appends_grow_the_cache(subject: Subject, rng: torch.Generator) -> None:
    cache = expect_handle(subject.KVCache(), "KVCache()")
    cache.append(*_copies(_KEY_1, _VALUE_1))
    cache.append(*_copies(_KEY_2, _VALUE_2))
    expect_inputs_unchanged(subject, "KVCache.append")
    expect_equal(len(cache), 2, "len(cache) after two appends", reveal=True)
    expect_close(cache.keys, torch.stack([_KEY_1, _KEY_2]), "cache.keys after two appends", reveal=True)
    expect_close(cache.values, torch.stack([_VALUE_1, _VALUE_2]), "cache.values after two appends", reveal=True)


def _causal_module(subject: Subject, context_length: int) -> Handle:
    """``CausalSelfAttention(3, 2, 4, context_length)`` made after the seed, where the learner code runs."""
    causal_cls = _needs_api(subject, "CausalSelfAttention", "causal_attention")
    subject.manual_seed(SEED)  # seeded where the learner code runs
    attn = causal_cls(D_IN, D_KQ, D_V, context_length)
    return expect_handle(attn, f"CausalSelfAttention(3, 2, 4, {context_length})", base="Module")


@_check("kv_cache", "decode_step on the 6 tokens one by one gives the rows of the full causal pass, growing the cache")
def decoding_matches_full_pass(subject: Subject, rng: torch.Generator) -> None:
    cache = expect_handle(subject.KVCache(), "KVCache()")
    attn = _causal_module(subject, T)
    x = _example_x()
    full = attn(x)
    for t in range(T):
        token = x[t].clone()
        out = subject.decode_step(attn, token, cache)
        expect_inputs_unchanged(subject, "decode_step")
        expect_close(out, full[t], f"decode_step for token {t} (x_t of shape (3,)), compared with row {t} of attn(x)")
        expect_equal(len(cache), t + 1, f"len(cache) after decoding token {t}", reveal=True)


@_check("kv_cache", "decode_step takes a batch of tokens (2, 3) and gives (2, 4)")
def batched_decoding(subject: Subject, rng: torch.Generator) -> None:
    cache = expect_handle(subject.KVCache(), "KVCache()")
    attn = _causal_module(subject, T)
    x = _example_x()
    batch = torch.stack([x, x.flip(0)])
    full = attn(batch)
    for t in range(3):
        out = subject.decode_step(attn, batch[:, t].clone(), cache)
        expect_close(out, full[:, t], f"decode_step for token {t} of a batch (x_t of shape (2, 3))")


@_check("kv_cache", "decode_step raises ValueError once the cache holds context_length tokens")
def full_cache_raises(subject: Subject, rng: torch.Generator) -> None:
    cache = expect_handle(subject.KVCache(), "KVCache()")
    attn = _causal_module(subject, 2)
    x = _example_x()
    subject.decode_step(attn, x[0].clone(), cache)
    subject.decode_step(attn, x[1].clone(), cache)
    expect_raises(ValueError, lambda: subject.decode_step(attn, x[2].clone(), cache),
                  "decode_step with context_length=2 and a cache already holding 2 tokens")


# ---------------------------------------------------------------------------------------
# Running the public checks outside pytest (notebooks)
# ---------------------------------------------------------------------------------------


def check_step(step: str, code: Mapping[str, Any] | ModuleType) -> None:
    """Run step ``step``'s public checks on ``code`` (a notebook's ``globals()`` or a module).

    Prints one line per check and raises `CheckFailed` (an ``AssertionError``) naming the
    checks that did not pass, so a notebook test cell fails exactly when pytest would::

        from selfcheck.public import check_step
        check_step("scores", globals())
    """
    if step not in BY_ID:
        raise ValueError(f"unknown step {step!r}; the steps are: {', '.join(BY_ID)}")
    if isinstance(code, ModuleType):
        subject: Subject = LocalSubject.from_module(step, code)
    else:
        subject = LocalSubject(step, code, "the notebook")
    failed = []
    for check in PUBLIC.for_step(step):
        outcome = run_check(check, subject, 0)
        print(f"{'PASS' if outcome.passed else 'FAIL'}  {check.title}")
        if not outcome.passed:
            print("      " + outcome.message.replace("\n", "\n      "))
            failed.append(check.name)
    info = BY_ID[step]
    if failed:
        raise CheckFailed(f"step {info.number} {step}: {len(failed)} of {len(PUBLIC.for_step(step))} public checks "
                          f"did not pass ({', '.join(failed)})")
