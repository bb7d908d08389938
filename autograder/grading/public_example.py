"""The learner's results on the course's public running example, for the heatmaps of the feedback page.

The running example is "The sun rises in the east" (SPEC.md, "Facts every solution reproduces"):
its six tokens embedded with ``seed=123`` into ``x`` ``(6, 3)``, and the article's
``SelfAttention(3, 2, 4)`` weights drawn after ``torch.manual_seed(123)``. Every input here is
built from those published literals and seeds; nothing is drawn from the grading seed, so no
hidden input can reach a feedback page.

`learner_examples` calls the learner's functions through a `selfcheck.Subject` (in the grader, a
`RemoteSubject` on the step's sandboxed child, after that step's hidden checks have run). Its
results only feed the page: they never change a score, and a failure of the learner's code is
recorded as a short message instead of a matrix. `expected_examples` gives the correct matrices,
computed here with torch.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from selfcheck.errors import CallFailed
from selfcheck.public.common import D_IN, D_KQ, D_V, SEED, SENTENCE, TOKEN_IDS
from selfcheck.subject import Subject

TOKENS = tuple(SENTENCE.split())
HEADS = 2
MAX_MESSAGE = 300  # characters of a learner's error shown on the page
CALL_SECONDS = 2.0  # at most, per call on the example (milliseconds for any correct code, even with loops)


@dataclass(frozen=True)
class Example:
    """One heatmap of one step: what the learner's code gives on the example, beside the correct matrix."""

    step: str
    name: str
    title: str  # what the matrix is, for the page
    call: str  # the call made, for the page
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    expected: Callable[[], torch.Tensor]  # () -> (len(rows), len(columns))
    learner: Callable[[Subject], Any]  # subject -> that matrix, from the learner's code


# -- the example's inputs (public literals and seeds only) -------------------------------------------


def example_x() -> torch.Tensor:
    """``embed(encode(SENTENCE))``: rows of ``nn.Embedding(50_000, 3)`` after ``torch.manual_seed(123)``, (6, 3)."""
    weight = torch.randn(50_000, 3, generator=torch.Generator().manual_seed(SEED))  # what N(0, 1) init draws
    return weight[torch.tensor(TOKEN_IDS)]


def _rand_draws(*shapes: tuple[int, ...]) -> list[torch.Tensor]:
    """What ``torch.manual_seed(123)`` then ``torch.rand(shape)`` per shape draws (the global RNG is left alone)."""
    generator = torch.Generator().manual_seed(SEED)
    return [torch.rand(shape, generator=generator) for shape in shapes]


def example_qkv() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Queries, keys (6, 2) and values (6, 4) of ``SelfAttention(3, 2, 4)`` seeded with 123."""
    w_query, w_key, w_value = _rand_draws((D_IN, D_KQ), (D_IN, D_KQ), (D_IN, D_V))
    x = example_x()
    return x @ w_query, x @ w_key, x @ w_value


def example_scores() -> torch.Tensor:
    """ω = queries · keysᵀ of the example, (6, 6)."""
    queries, keys, _ = example_qkv()
    return queries @ keys.T


def _attend(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, *, causal: bool = False) -> torch.Tensor:
    """Scaled dot-product attention (float64); ``(..., T, d_k)``, ``(..., T, d_v)`` -> ``(..., T, d_v)``."""
    q, k, v = (t.to(torch.float64) for t in (queries, keys, values))
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        scores = scores.masked_fill(torch.ones(scores.shape[-2:], dtype=torch.bool).triu(1), float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def _causal_weights(scores: torch.Tensor) -> torch.Tensor:
    blocked = torch.ones(scores.shape, dtype=torch.bool).triu(1)
    return torch.softmax(scores.double().masked_fill(blocked, float("-inf")) / math.sqrt(D_KQ), dim=-1)


def _multi_head_expected(head: int) -> Callable[[], torch.Tensor]:
    def expected() -> torch.Tensor:
        w_query, w_key, w_value = _rand_draws((D_IN, HEADS * D_KQ), (D_IN, HEADS * D_KQ), (D_IN, HEADS * D_V))
        x = example_x()
        q, k, v = x @ w_query, x @ w_key, x @ w_value
        kq, dv = slice(head * D_KQ, (head + 1) * D_KQ), slice(head * D_V, (head + 1) * D_V)  # head h's column block
        return _attend(q[:, kq], k[:, kq], v[:, dv])

    return expected


def _multi_head_learner(head: int) -> Callable[[Subject], Any]:
    def learner(subject: Subject) -> Any:
        subject.manual_seed(SEED)
        out = subject.MultiHeadAttention(D_IN, D_KQ, D_V, HEADS)(example_x())
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (len(TOKENS), HEADS * D_V):
            return out
        return out[:, head * D_V:(head + 1) * D_V]  # (T, heads * d_v) -> head h's (T, d_v) block

    return learner


def _seeded_module(name: str, *args: int) -> Callable[[Subject], Any]:
    def learner(subject: Subject) -> Any:
        subject.manual_seed(SEED)
        return getattr(subject, name)(*args)(example_x())

    return learner


_DIMS = tuple(f"dim {i}" for i in range(D_V))
_KQ = tuple(f"dim {i}" for i in range(D_KQ))

EXAMPLES: tuple[Example, ...] = (
    Example("scores", "scores", "attention scores ω = queries · keysᵀ (rows: queries, columns: keys)",
            "attention_scores(queries, keys)", TOKENS, TOKENS, example_scores,
            lambda s: s.attention_scores(*[t.clone() for t in example_qkv()[:2]])),
    Example("weights", "weights", "attention weights (rows: queries, columns: keys; each row sums to 1)",
            f"attention_weights(scores, d_k={D_KQ})", TOKENS, TOKENS,
            lambda: torch.softmax(example_scores().double() / math.sqrt(D_KQ), dim=-1),
            lambda s: s.attention_weights(example_scores(), D_KQ)),
    Example("self_attention", "output", "context vectors (rows: tokens, columns: output dimensions)",
            f"torch.manual_seed({SEED}); SelfAttention({D_IN}, {D_KQ}, {D_V})(x)", TOKENS, _DIMS,
            lambda: _attend(*example_qkv()), _seeded_module("SelfAttention", D_IN, D_KQ, D_V)),
    *(Example("multi_head", f"head{h}", f"head {h + 1} of {HEADS}: its context vectors (columns {h * D_V}-"
              f"{(h + 1) * D_V - 1} of the output)",
              f"torch.manual_seed({SEED}); MultiHeadAttention({D_IN}, {D_KQ}, {D_V}, num_heads={HEADS})(x)",
              TOKENS, _DIMS, _multi_head_expected(h), _multi_head_learner(h)) for h in range(HEADS)),
    Example("causal_mask", "mask", "causal mask (1 = blocked: the key comes after the query)",
            f"causal_mask({len(TOKENS)})", TOKENS, TOKENS,
            lambda: torch.ones(len(TOKENS), len(TOKENS)).triu(1), lambda s: s.causal_mask(len(TOKENS))),
    Example("causal_mask", "weights", "causal attention weights (zero above the diagonal, rows sum to 1)",
            f"causal_attention_weights(scores, d_k={D_KQ})", TOKENS, TOKENS,
            lambda: _causal_weights(example_scores()),
            lambda s: s.causal_attention_weights(example_scores(), D_KQ)),
    Example("causal_attention", "output", "causal context vectors (token i sees tokens 0..i only)",
            f"torch.manual_seed({SEED}); CausalSelfAttention({D_IN}, {D_KQ}, {D_V}, context_length={len(TOKENS)})(x)",
            TOKENS, _DIMS, lambda: _attend(*example_qkv(), causal=True),
            _seeded_module("CausalSelfAttention", D_IN, D_KQ, D_V, len(TOKENS))),
)


def examples_for(step: str) -> list[Example]:
    return [e for e in EXAMPLES if e.step == step]


def expected_matrix(example: Example) -> list[list[float]]:
    """The correct matrix of ``example`` (computed once per process)."""
    return [list(row) for row in _expected(example.step, example.name)]


@functools.cache
def _expected(step: str, name: str) -> tuple[tuple[float, ...], ...]:
    example = next(e for e in EXAMPLES if e.step == step and e.name == name)
    return tuple(tuple(row) for row in example.expected().double().tolist())


def learner_examples(step: str, subject: Subject) -> dict[str, list[list[float]] | str]:
    """The learner's matrix for each example of ``step``, or a message saying why there is none.

    Never raises for anything learner code does; stops at the first call that ends the child.
    """
    found: dict[str, list[list[float]] | str] = {}
    for example in examples_for(step):
        try:
            value = example.learner(subject)
            found[example.name] = _as_matrix(value, (len(example.rows), len(example.columns)))
        except CallFailed as failure:  # the child is gone: the other calls cannot run either
            found[example.name] = _short(str(failure))
            break
        except Exception as error:  # noqa: BLE001 - learner errors, checks' CheckFailed, odd results, anything
            found[example.name] = _short(_describe(error))
    return found


def _as_matrix(value: Any, shape: tuple[int, int]) -> list[list[float]] | str:
    if not isinstance(value, torch.Tensor):
        return f"your code returned {type(value).__name__}, not a tensor"
    if tuple(value.shape) != shape:
        return f"your code returned shape {tuple(value.shape)}; the correct result has shape {shape}"
    if value.is_complex():
        return f"your code returned a {value.dtype} tensor, not a real one"
    return value.detach().to(torch.float64).tolist()


def _describe(error: Exception) -> str:
    describe = getattr(error, "describe", None)
    if callable(describe):
        try:
            return str(describe())
        except Exception:  # noqa: BLE001
            pass
    return f"{type(error).__name__}: {error}"


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 1] + "…"
