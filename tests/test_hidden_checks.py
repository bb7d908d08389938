"""The hidden checks (``autograder/hidden``) and the reference (``autograder/reference.py``).

- every hidden check passes on the solutions (several seeds), on the reference itself and on
  correct solutions written in other styles (einsum, manual softmax, float64 inside, loops);
- every common mistake fails the right check, and the message names the mistake; a mistake in
  one aspect fails only the checks about that aspect;
- messages never contain hidden input values;
- every step of ``course.yml`` has checks, with positive weights;
- checks are deterministic for a seed and differ across seeds.

Everything runs in-process (`LocalSubject`), single-threaded for speed.
"""

from __future__ import annotations

import importlib
import itertools
import math
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
from sweep_styles import fill_variants, naive_softmax_variants
from torch import nn

from autograder import reference as ref
from autograder.course import load_course
from autograder.hidden import HIDDEN, load_hidden_checks
from selfcheck import LocalSubject, Outcome, run_check
from selfcheck.magnitude import FINITE_FILL, UNSTABLE_SOFTMAX
from selfcheck.plain import tensors_in, to_plain
from selfcheck.subject import LocalHandle

CHECKS = load_hidden_checks()
COURSE = load_course()
STEPS = [step.id for step in COURSE.steps]
MODULES = {step.id: step.module for step in COURSE.steps}
SEEDS = (0, 1, 987_654_321)
FACT_CHECKS = {  # checks on the course's published facts (they may show expected values, and use no randomness)
    ("tokens", "example_sentence"), ("embedding", "example_row"), ("self_attention", "example_row"),
    ("causal_pairs", "example_seven"), ("causal_attention", "token_output_example"),
}
SAMPLES = Path(__file__).resolve().parents[1] / "autograder" / "samples"
NEG_INF = float("-inf")


@pytest.fixture(autouse=True, scope="module")
def _single_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead
    yield
    torch.set_num_threads(threads)


def run_all(step: str, namespace: dict[str, Any], seed: int) -> dict[str, Outcome]:
    subject = LocalSubject(step, namespace, f"attention/{MODULES[step]}.py")
    return {check.name: run_check(check, subject, seed) for check in CHECKS.for_step(step)}


def run_one(step: str, namespace: dict[str, Any], name: str, seed: int) -> Outcome:
    check = next(c for c in CHECKS.for_step(step) if c.name == name)
    return run_check(check, LocalSubject(step, namespace, f"attention/{MODULES[step]}.py"), seed)


def failures(outcomes: dict[str, Outcome]) -> dict[str, str]:
    return {name: f"[{o.status}] {o.message}" for name, o in outcomes.items() if not o.passed}


def reference_with(**overrides: Any) -> dict[str, Any]:
    """The reference's namespace with some API names replaced (a learner module with one mistake)."""
    namespace = ref.namespace()
    namespace.update(overrides)
    return namespace


# ---------------------------------------------------------------------------------------------
# (a) correct code passes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("step", STEPS)
def test_solutions_pass_every_check(step: str, solutions_module: Callable) -> None:
    namespace = vars(solutions_module(MODULES[step]))
    for seed in SEEDS:
        assert failures(run_all(step, namespace, seed)) == {}, f"seed {seed}"


@pytest.mark.parametrize("step", STEPS)
def test_reference_passes_every_check(step: str) -> None:
    for seed in SEEDS:
        assert failures(run_all(step, ref.namespace(), seed)) == {}, f"seed {seed}"


@pytest.mark.parametrize("step", STEPS)
def test_einsum_sample_passes(step: str, solutions_module: Callable) -> None:
    """The bundled correct sample in einsum/manual-softmax style (the fixture purges `attention` afterwards)."""
    if not (SAMPLES / "complete_einsum" / "attention" / f"{MODULES[step]}.py").is_file():
        pytest.skip("no complete_einsum sample for this step")
    for name in [n for n in sys.modules if n == "attention" or n.startswith("attention.")]:
        del sys.modules[name]
    sys.path.insert(0, str(SAMPLES / "complete_einsum"))
    try:
        namespace = vars(importlib.import_module(f"attention.{MODULES[step]}"))
    finally:
        sys.path.remove(str(SAMPLES / "complete_einsum"))
    assert failures(run_all(step, namespace, 5)) == {}


# ---------------------------------------------------------------------------------------------
# (c) correct code in other styles passes
# ---------------------------------------------------------------------------------------------


def _manual_softmax(x: torch.Tensor) -> torch.Tensor:
    e = torch.exp(x - x.amax(dim=-1, keepdim=True))
    return e / e.sum(dim=-1, keepdim=True)


def _loop_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool) -> torch.Tensor:
    """Token by token, in Python loops, float64 inside, exp/sum softmax after subtracting the row's maximum.

    (Without the maximum, exp underflows to 0 / 0 on the hidden scores of large magnitude.)
    """
    if q.dim() > 2:
        return torch.stack([_loop_attention(a, b, c, causal) for a, b, c in zip(q, k, v, strict=True)])
    q, k, v = q.detach().double(), k.detach().double(), v.detach().double()
    rows = []
    for i in range(q.shape[0]):
        last = i + 1 if causal else k.shape[0]
        scores = [sum(q[i, d] * k[j, d] for d in range(q.shape[1])) / math.sqrt(q.shape[1]) for j in range(last)]
        top = max(float(s) for s in scores)
        exps = [math.exp(float(s) - top) for s in scores]
        total = sum(exps)
        rows.append(sum((e / total) * v[j] for j, e in enumerate(exps)))
    return torch.stack(rows).float()


def _einsum_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool) -> torch.Tensor:
    scores = torch.einsum("...qd,...kd->...qk", q, k) / q.shape[-1] ** 0.5
    if causal:
        t_q, t_k = scores.shape[-2:]
        scores = torch.where(torch.ones(t_q, t_k, dtype=torch.bool).tril(), scores, torch.tensor(NEG_INF))
    return torch.einsum("...qk,...kd->...qd", _manual_softmax(scores), v)


class _LoopSelfAttention(nn.Module):
    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int) -> None:
        super().__init__()
        self.W_query = nn.Parameter(torch.rand(d_in, d_out_kq))
        self.W_key = nn.Parameter(torch.rand(d_in, d_out_kq))
        self.W_value = nn.Parameter(torch.rand(d_in, d_out_v))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _loop_attention(x @ self.W_query, x @ self.W_key, x @ self.W_value, causal=False)


class _EinsumWrapper(nn.Module):
    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int, num_heads: int) -> None:
        super().__init__()
        self.heads = nn.ModuleList(ref.SelfAttention(d_in, d_out_kq, d_out_v) for _ in range(num_heads))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = []
        for head in self.heads:
            q, k, v = (torch.einsum("...ti,io->...to", x, w) for w in (head.W_query, head.W_key, head.W_value))
            outs.append(_einsum_attention(q, k, v, causal=False))
        return torch.cat(outs, dim=-1)


class _EinsumMHA(nn.Module):
    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int, num_heads: int) -> None:
        super().__init__()
        self.h, self.dk, self.dv = num_heads, d_out_kq, d_out_v
        self.W_query = nn.Parameter(torch.rand(d_in, num_heads * d_out_kq))
        self.W_key = nn.Parameter(torch.rand(d_in, num_heads * d_out_kq))
        self.W_value = nn.Parameter(torch.rand(d_in, num_heads * d_out_v))

    @classmethod
    def from_wrapper(cls, wrapper: nn.Module) -> _EinsumMHA:
        heads = list(wrapper.heads)
        module = cls.__new__(cls)
        nn.Module.__init__(module)
        module.h, module.dk, module.dv = len(heads), heads[0].W_query.shape[1], heads[0].W_value.shape[1]
        for name in ("W_query", "W_key", "W_value"):
            setattr(module, name, nn.Parameter(torch.cat([getattr(h, name).detach() for h in heads], dim=1)))
        return module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = torch.einsum("...ti,ihd->...htd", x, self.W_query.view(-1, self.h, self.dk))
        k = torch.einsum("...ti,ihd->...htd", x, self.W_key.view(-1, self.h, self.dk))
        v = torch.einsum("...ti,ihd->...htd", x, self.W_value.view(-1, self.h, self.dv))
        out = _einsum_attention(q, k, v, causal=False)  # (..., h, T, dv)
        return torch.einsum("...htd->...thd", out).flatten(-2)


class _EinsumCross(ref.CrossAttention):
    def forward(self, x_1: torch.Tensor, x_2: torch.Tensor) -> torch.Tensor:
        q = torch.einsum("...ti,io->...to", x_1, self.W_query)
        return _einsum_attention(q, x_2 @ self.W_key, x_2 @ self.W_value, causal=False)


class _LoopCausal(nn.Module):
    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int, context_length: int) -> None:
        super().__init__()
        self.W_query = nn.Parameter(torch.rand(d_in, d_out_kq))
        self.W_key = nn.Parameter(torch.rand(d_in, d_out_kq))
        self.W_value = nn.Parameter(torch.rand(d_in, d_out_v))
        self.register_buffer("mask", torch.triu(torch.ones(context_length, context_length), 1).bool())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] > self.mask.shape[0]:
            raise ValueError("too long")
        return _loop_attention(x @ self.W_query, x @ self.W_key, x @ self.W_value, causal=True)


class _ListCache:
    """Keeps python lists and stacks them on access."""

    def __init__(self) -> None:
        self._k: list[torch.Tensor] = []
        self._v: list[torch.Tensor] = []

    def __len__(self) -> int:
        return len(self._k)

    @property
    def keys(self) -> torch.Tensor | None:
        return torch.stack(self._k, dim=-2) if self._k else None

    @property
    def values(self) -> torch.Tensor | None:
        return torch.stack(self._v, dim=-2) if self._v else None

    def append(self, key: torch.Tensor, value: torch.Tensor) -> None:
        self._k.append(key.clone())
        self._v.append(value.clone())


def _loop_decode(attn: nn.Module, x_t: torch.Tensor, cache: Any) -> torch.Tensor:
    if len(cache) >= attn.mask.shape[-1]:
        raise ValueError("full")
    with torch.no_grad():
        q = (x_t.double() @ attn.W_query.double()).unsqueeze(-2)
        cache.append(x_t @ attn.W_key, x_t @ attn.W_value)
        scores = torch.einsum("...qd,...kd->...qk", q, cache.keys.double()) / math.sqrt(q.shape[-1])
        exps = torch.exp(scores - scores.amax(-1, keepdim=True))
        weights = exps / exps.sum(-1, keepdim=True)
        return (weights @ cache.values.double()).squeeze(-2).float()


def _float64_inside(function: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    def wrapped(first: torch.Tensor, *rest: Any) -> torch.Tensor:
        args = [a.double() if isinstance(a, torch.Tensor) else a for a in (first, *rest)]
        return function(*args).to(first.dtype)

    return wrapped


def _square(scores: torch.Tensor) -> int:
    if scores.shape[-1] != scores.shape[-2]:
        raise ValueError("scores must be square")
    return scores.shape[-1]


def _where_mask_scores(scores: torch.Tensor) -> torch.Tensor:
    size = _square(scores)
    return torch.where(torch.ones(size, size).triu(1).bool(), NEG_INF, scores)


def _manual_causal_weights(scores: torch.Tensor, d_k: int) -> torch.Tensor:
    """float64 inside, exp/sum softmax with the blocked entries zeroed by torch.where."""
    size = _square(scores)
    allowed = torch.ones(size, size, dtype=torch.bool).tril()
    scaled = scores.double() / math.sqrt(d_k)
    exps = torch.where(allowed, torch.exp(scaled - scaled.amax(-1, keepdim=True)), 0.0)
    return (exps / exps.sum(-1, keepdim=True)).to(scores.dtype)


def _itertools_pairs(n: int) -> list[tuple[int, int]]:
    pairs = itertools.combinations_with_replacement(range(ref.keys_attended(n) - 1), 2)  # (j, i) with j <= i
    return sorted((i, j) for j, i in pairs)


def _is_causal_loops(matrix: torch.Tensor) -> bool:
    flat = matrix.reshape(-1, *matrix.shape[-2:])
    for m in flat:
        for i in range(m.shape[0]):
            for j in range(i + 1, m.shape[1]):
                value = float(m[i, j])
                if not (value == 0 or value == NEG_INF):
                    return False
    return True


STYLES: dict[str, dict[str, Any]] = {
    "tokens": {
        "build_vocab": lambda text: {w: i for i, w in enumerate(sorted({*text.split()}))},
        "encode": lambda text, vocab: torch.as_tensor([vocab[w] for w in text.split()], dtype=torch.int64),
    },
    "embedding": {
        "embed": lambda ids, vocab_size=50_000, dim=3, seed=123: (
            torch.manual_seed(seed), nn.Embedding(vocab_size, dim))[1](torch.as_tensor(ids)).detach().float(),
    },
    "projections": {
        "init_projections": ref.init_projections,
        "project_qkv": lambda x, *ws: tuple(torch.einsum("...ti,io->...to", x, w) for w in ws),
    },
    "scores": {"attention_scores": _float64_inside(lambda q, k: torch.einsum("...d,...kd->...k", q, k)
                                                   if q.dim() == 1 else torch.einsum("...qd,...kd->...qk", q, k))},
    "weights": {"attention_weights": lambda s, d_k: torch.exp(s / math.sqrt(d_k)) / torch.exp(
        s / math.sqrt(d_k)).sum(-1, keepdim=True)},
    "context": {"context_vectors": _float64_inside(torch.matmul)},
    "self_attention": {"SelfAttention": _LoopSelfAttention},
    "multi_head": {"MultiHeadAttentionWrapper": _EinsumWrapper, "MultiHeadAttention": _EinsumMHA},
    "cross_attention": {"CrossAttention": _EinsumCross},
    "causal_pairs": {
        "causal_pairs": _itertools_pairs,
        "count_causal_pairs": lambda n: math.comb(ref.keys_attended(n), 2),
        "keys_attended": ref.keys_attended,
    },
    "causal_mask": {
        "tril_mask": lambda n: torch.ones(n, n).tril(),
        "causal_mask": lambda n: torch.ones(n, n).triu(1) == 1,
        "mask_and_renormalize": _float64_inside(lambda w: (w * torch.ones_like(w).tril()) / (
            w * torch.ones_like(w).tril()).sum(-1, keepdim=True)),
        "mask_scores": _where_mask_scores,
        "causal_attention_weights": _manual_causal_weights,
        "is_causal": _is_causal_loops,
    },
    "causal_attention": {"token_output": ref.token_output, "CausalSelfAttention": _LoopCausal},
    "kv_cache": {"KVCache": _ListCache, "decode_step": _loop_decode},
}


@pytest.mark.parametrize("step", STEPS)
def test_other_styles_pass(step: str) -> None:
    namespace = reference_with(**STYLES[step])
    for seed in SEEDS[-2:]:
        assert failures(run_all(step, namespace, seed)) == {}, f"seed {seed}"


# ---------------------------------------------------------------------------------------------
# (b) common mistakes fail the right check, named
# ---------------------------------------------------------------------------------------------


def learner_weights(scores: torch.Tensor, d_k: float, kind: str = "ok", causal: bool = True) -> torch.Tensor:
    """Attention weights as a learner might write them, with one mistake ``kind``."""
    scaled = {"dk": scores / d_k, "noscale": scores}.get(kind, scores / math.sqrt(d_k))
    t_q, t_k = scores.shape[-2:]
    ones = torch.ones(t_q, t_k, dtype=torch.bool)
    if not causal:
        return torch.softmax(scaled, dim=-2 if kind == "dim" else -1)
    blocked = {"diagonal": ones.triu(0), "inverted": ones.tril(-1)}.get(kind, ones.triu(1))
    if kind == "zero":
        return torch.softmax(scaled.masked_fill(blocked, 0.0), dim=-1)
    if kind == "norenorm":
        return torch.softmax(scaled, dim=-1).masked_fill(blocked, 0.0)
    if kind == "nomask":
        return torch.softmax(scaled, dim=-1)
    return torch.softmax(scaled.masked_fill(blocked, NEG_INF), dim=-2 if kind == "dim" else -1)


def causal_module(kind: str) -> type[nn.Module]:
    class Mutant(ref.CausalSelfAttention):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            length = x.shape[-2]
            if length > self.mask.shape[-1] and kind != "nolengthcheck":
                raise ValueError("too long")
            q, k, v = x @ self.W_query, x @ self.W_key, x @ self.W_value
            scores = q @ k.mT
            if kind == "unsliced":
                scores = scores.masked_fill(self.mask, NEG_INF)
                return torch.softmax(scores / math.sqrt(q.shape[-1]), -1) @ v
            return learner_weights(scores, q.shape[-1], kind) @ v

    return Mutant


def self_attention_module(kind: str) -> type[nn.Module]:
    class Mutant(ref.SelfAttention):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            q, k, v = x @ self.W_query, x @ self.W_key, x @ self.W_value
            if kind == "swap":
                q, k = k, q
            d_k = v.shape[-1] if kind == "dv" else q.shape[-1]  # "dv": scaled by sqrt(d_v) instead of sqrt(d_k)
            weights = learner_weights(q @ k.mT, d_k, kind, causal=False)
            return (weights.mT if kind == "transposed" else weights) @ v

    return Mutant


def mha_module(kind: str) -> type[nn.Module]:
    class Mutant(ref.MultiHeadAttention):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            heads, length, batch = self.num_heads, x.shape[-2], x.shape[:-2]
            projected = [x @ self.W_query, x @ self.W_key, x @ self.W_value]
            if kind == "split":
                q, k, v = (p.reshape(*batch, heads, length, -1) for p in projected)
            else:
                q, k, v = (p.reshape(*batch, length, heads, -1).transpose(-3, -2) for p in projected)
            width = self.W_query.shape[1] if kind == "wide" else q.shape[-1]
            out = torch.softmax(q @ k.mT / math.sqrt(width), dim=-1) @ v
            if kind == "merge":
                return out.reshape(*batch, length, -1)
            return out.transpose(-3, -2).reshape(*batch, length, -1)

    return Mutant


def cross_module(kind: str) -> type[nn.Module]:
    class Mutant(ref.CrossAttention):
        def forward(self, x_1: torch.Tensor, x_2: torch.Tensor) -> torch.Tensor:
            sources = {"swap": (x_2, x_1, x_1), "kv1": (x_1, x_1, x_1), "k1": (x_1, x_1, x_2),
                       "v1": (x_1, x_2, x_1), "q2": (x_2, x_2, x_2)}[kind]
            q, k, v = (s @ w for s, w in zip(sources, (self.W_query, self.W_key, self.W_value), strict=True))
            return torch.softmax(q @ k.mT / math.sqrt(q.shape[-1]), -1) @ v

    return Mutant


def _drawn(order: tuple[int, int, int], draw: Callable = torch.rand) -> Callable:
    def init_projections(d_in: int, d_out_kq: int, d_out_v: int, seed: int | None = None) -> tuple:
        if seed is not None:
            torch.manual_seed(seed)
        shapes = [(d_in, d_out_kq), (d_in, d_out_kq), (d_in, d_out_v)]
        made: dict[int, nn.Parameter] = {i: nn.Parameter(draw(*shapes[i])) for i in order}
        return made[0], made[1], made[2]

    return init_projections


def _reseeding(d_in: int, d_out_kq: int, d_out_v: int, seed: int | None = None) -> tuple:
    return ref.init_projections(d_in, d_out_kq, d_out_v, seed=123 if seed is None else seed)


def _loop_count(n: int) -> int:
    return sum(i for i in range(ref.keys_attended(n)))


class _AppendDim0Cache(ref.KVCache):
    def append(self, key: torch.Tensor, value: torch.Tensor) -> None:
        if self.keys is None:
            self.keys, self.values = key.unsqueeze(0), value.unsqueeze(0)
        else:
            self.keys = torch.cat([self.keys, key.unsqueeze(0)])
            self.values = torch.cat([self.values, value.unsqueeze(0)])


def _decode_wrong_row(attn: nn.Module, x_t: torch.Tensor, cache: Any) -> torch.Tensor:
    """Appends first, then masks with the row of the previous position: the new token's own key is hidden."""
    if len(cache) >= attn.mask.shape[-1]:
        raise ValueError("full")
    q, k, v = x_t @ attn.W_query, x_t @ attn.W_key, x_t @ attn.W_value
    cache.append(k, v)
    t = len(cache)
    row = torch.ones(t, dtype=torch.bool) if t == 1 else torch.arange(t) >= t - 1  # blocks key t-1 (its own)
    scores = (q.unsqueeze(-2) @ cache.keys.mT).squeeze(-2).masked_fill(row if t > 1 else ~row, NEG_INF)
    return (torch.softmax(scores / math.sqrt(q.shape[-1]), -1).unsqueeze(-2) @ cache.values).squeeze(-2)


_HISTORY: dict[int, list[tuple[torch.Tensor, torch.Tensor]]] = {}


def _decode_own_history(attn: nn.Module, x_t: torch.Tensor, cache: Any) -> torch.Tensor:
    """Fills the cache but attends to a history of its own, never to what the cache holds."""
    if len(cache) >= attn.mask.shape[-1]:
        raise ValueError("full")
    q, k, v = x_t @ attn.W_query, x_t @ attn.W_key, x_t @ attn.W_value
    cache.append(k, v)
    history = _HISTORY.setdefault(id(attn), [])
    history.append((k, v))
    keys, values = torch.stack([h[0] for h in history], -2), torch.stack([h[1] for h in history], -2)
    weights = torch.softmax(q.unsqueeze(-2) @ keys.mT / math.sqrt(q.shape[-1]), -1)
    return (weights @ values).squeeze(-2)


def _token_output_int_lists(weights_row: Any, values: Any) -> torch.Tensor:
    w, v = torch.as_tensor(weights_row), torch.as_tensor(values)
    if v.shape[-2] < w.shape[-1]:
        raise ValueError("too few rows")
    return w @ v[: w.shape[-1]]  # int64 values meet float weights: torch's dtype error


class _ListHeads(ref.MultiHeadAttentionWrapper):
    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int, num_heads: int) -> None:
        nn.Module.__init__(self)
        self.heads = [ref.SelfAttention(d_in, d_out_kq, d_out_v) for _ in range(num_heads)]


def _decode(kind: str) -> Callable:
    def decode_step(attn: nn.Module, x_t: torch.Tensor, cache: Any) -> torch.Tensor:
        if kind != "nofull" and len(cache) >= attn.mask.shape[-1]:
            raise ValueError("full")
        q, k, v = x_t @ attn.W_query, x_t @ attn.W_key, x_t @ attn.W_value
        if kind == "onlynew":
            cache.append(k, v)
            return v
        if kind == "late":
            keys, values = (cache.keys, cache.values) if len(cache) else (k.unsqueeze(-2), v.unsqueeze(-2))
            cache.append(k, v)
        else:
            cache.append(k, v)
            keys, values = cache.keys, cache.values
        scale = 1.0 if kind == "noscale" else math.sqrt(q.shape[-1])
        weights = torch.softmax((q.unsqueeze(-2) @ keys.mT) / scale, -1)
        return (weights @ values).squeeze(-2)

    return decode_step


def _is_causal(kind: str) -> Callable:
    def is_causal(matrix: torch.Tensor) -> Any:
        m = matrix if kind != "first" else matrix.reshape(-1, *matrix.shape[-2:])[0]
        blocked = torch.ones(m.shape[-2:], dtype=torch.bool).triu(1 if kind != "diagonal" else 0)
        above = m[..., blocked]
        if kind == "zeroonly":
            return bool((above == 0).all())
        if kind == "anyinf":
            return bool(((above == 0) | above.isinf()).all())
        if kind == "tensor":
            return ((above == 0) | (above == NEG_INF)).all()
        if kind == "tolerance":
            return bool(torch.allclose(above.nan_to_num(neginf=0.0), torch.zeros_like(above), atol=1e-2))
        return bool(((above == 0) | (above == NEG_INF)).all())

    return is_causal


def _non_square_ok(scores: torch.Tensor) -> torch.Tensor:
    t_q, t_k = scores.shape[-2:]
    return scores.masked_fill(torch.ones(t_q, t_k, dtype=torch.bool).triu(1), NEG_INF)


def _in_place_scores(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    result = ref.attention_scores(queries, keys)
    queries.mul_(2)
    return result


def _encode_rebuilt(text: str, vocab: dict[str, int]) -> torch.Tensor:
    return ref.encode(text, ref.build_vocab(text))


def _encode_float_empty(text: str, vocab: dict[str, int]) -> torch.Tensor:
    return torch.tensor([vocab[w] for w in text.split()]) if text.split() else torch.tensor([])


def _encode_vague_error(text: str, vocab: dict[str, int]) -> torch.Tensor:
    try:
        return ref.encode(text, vocab)
    except KeyError:
        raise KeyError("unknown word") from None


def _project_in_place(x: torch.Tensor, *weights: torch.Tensor) -> tuple:
    result = ref.project_qkv(x, *weights)
    x.mul_(0.5)
    return result


@dataclass(frozen=True)
class Mistake:
    step: str
    label: str
    overrides: dict[str, Any] = field(hash=False)
    check: str
    says: str  # a fragment the failure message must contain
    seeds: tuple[int, ...] = (3,)


MAGNITUDE_CHECKS = {"causal_mask": "causal_weights_values", "causal_attention": "future_invariance",
                    "kv_cache": "uses_cached_keys"}
MISTAKES = [
    # tokens
    Mistake("tokens", "lowercased", {"build_vocab": lambda t: ref.build_vocab(t.lower())}, "vocab_random_text",
            "lowercased"),
    Mistake("tokens", "appearance order", {"build_vocab": lambda t: {w: i for i, w in enumerate(
        dict.fromkeys(t.split()))}}, "vocab_random_text", "order of appearance"),
    Mistake("tokens", "split on spaces", {"build_vocab": lambda t: {w: i for i, w in enumerate(
        sorted(set(t.split(" "))))}}, "vocab_random_text", "split(' ')"),
    Mistake("tokens", "vocab rebuilt", {"encode": _encode_rebuilt}, "encode_random_text", "rebuilt"),
    Mistake("tokens", "float empty", {"encode": _encode_float_empty}, "encode_dtype_and_empty", "dtype=torch.long"),
    Mistake("tokens", "vague KeyError", {"encode": _encode_vague_error}, "encode_unknown_word", "does not name"),
    # embedding
    Mistake("embedding", "seed ignored", {"embed": lambda ids, vocab_size=50_000, dim=3, seed=123: ref.embed(
        ids, vocab_size, dim)}, "random_arguments", "seed argument is ignored"),
    Mistake("embedding", "not detached", {"embed": lambda ids, vocab_size=50_000, dim=3, seed=123: (
        torch.manual_seed(seed), nn.Embedding(vocab_size, dim))[1](torch.as_tensor(ids))}, "detached_float32",
        "requires grad"),
    # projections
    Mistake("projections", "order", {"init_projections": _drawn((1, 0, 2))}, "seeded_draws", "wrong order"),
    Mistake("projections", "randn", {"init_projections": _drawn((0, 1, 2), torch.randn)}, "seeded_draws",
            "torch.randn"),
    Mistake("projections", "reseeded", {"init_projections": _reseeding}, "unseeded_draws", "reseeded"),
    Mistake("projections", "returned order", {"project_qkv": lambda x, q, k, v: ref.project_qkv(x, k, q, v)},
            "project_sequence", "wrong order"),
    Mistake("projections", "in place", {"project_qkv": _project_in_place}, "project_unchanged", "in place"),
    # scores
    Mistake("scores", "scaled", {"attention_scores": lambda q, k: ref.attention_scores(q, k) / math.sqrt(
        q.shape[-1])}, "query_matrix", "already scaled"),
    Mistake("scores", "transposed", {"attention_scores": lambda q, k: k @ q.mT}, "query_matrix", "keys @ queries^T"),
    Mistake("scores", "in place", {"attention_scores": _in_place_scores}, "inputs_unchanged", "in place"),
    # weights
    Mistake("weights", "wrong dim", {"attention_weights": lambda s, d: learner_weights(s, d, "dim", causal=False)},
            "scaled_softmax", "wrong dimension"),
    Mistake("weights", "d_k", {"attention_weights": lambda s, d: learner_weights(s, d, "dk", causal=False)},
            "scaled_softmax", "divided by d_k instead of sqrt(d_k)"),
    Mistake("weights", "no scale", {"attention_weights": lambda s, d: learner_weights(s, d, "noscale", causal=False)},
            "scaled_softmax", "not scaled"),
    Mistake("weights", "wrong dim (rows)", {"attention_weights": lambda s, d: torch.softmax(s / math.sqrt(d), -2)},
            "rows_sum_to_one", "wrong dimension"),
    Mistake("weights", "in place", {"attention_weights": lambda s, d: torch.softmax(s.div_(math.sqrt(d)), -1)},
            "inputs_unchanged", "in place"),
    # context
    Mistake("context", "transposed", {"context_vectors": lambda w, v: w.mT @ v}, "square_weights", "transposed"),
    # self_attention
    Mistake("self_attention", "wrong dim", {"SelfAttention": self_attention_module("dim")}, "forward_sequence",
            "wrong dimension"),
    Mistake("self_attention", "d_k", {"SelfAttention": self_attention_module("dk")}, "forward_batch",
            "divided by d_k"),
    Mistake("self_attention", "no scale", {"SelfAttention": self_attention_module("noscale")}, "forward_sequence",
            "not scaled"),
    Mistake("self_attention", "q/k swapped", {"SelfAttention": self_attention_module("swap")}, "forward_sequence",
            "queries and keys swapped"),
    Mistake("self_attention", "weights transposed", {"SelfAttention": self_attention_module("transposed")},
            "forward_sequence", "transposed"),
    Mistake("self_attention", "example d_k", {"SelfAttention": self_attention_module("dk")}, "example_row",
            "divided by d_k"),
    # multi_head
    Mistake("multi_head", "split without transpose", {"MultiHeadAttention": mha_module("split")}, "mha_forward",
            "without a transpose"),
    Mistake("multi_head", "merge without transpose", {"MultiHeadAttention": mha_module("merge")}, "mha_forward",
            "heads scrambled when merging"),
    Mistake("multi_head", "torch reference, scrambled", {"MultiHeadAttention": mha_module("split")}, "mha_vs_torch",
            "heads scrambled"),
    Mistake("multi_head", "wide scale", {"MultiHeadAttention": mha_module("wide")}, "mha_forward",
            "sqrt(num_heads * d_out_kq)"),
    Mistake("multi_head", "shared head", {"MultiHeadAttentionWrapper": type(
        "Shared", (ref.MultiHeadAttentionWrapper,), {"__init__": lambda self, a, b, c, h: (
            nn.Module.__init__(self), setattr(self, "heads", nn.ModuleList([ref.SelfAttention(a, b, c)] * h)))[0]})},
        "wrapper_heads", "repeats one module"),
    # cross_attention
    Mistake("cross_attention", "inputs swapped", {"CrossAttention": cross_module("swap")}, "different_lengths",
            "x_1 and x_2 are swapped"),
    Mistake("cross_attention", "queries from x_2", {"CrossAttention": cross_module("q2")}, "different_lengths",
            "queries are taken from x_2"),
    Mistake("cross_attention", "keys and values from x_1", {"CrossAttention": cross_module("kv1")},
            "different_lengths", "keys and values are taken from x_1"),
    Mistake("cross_attention", "keys from x_1", {"CrossAttention": cross_module("k1")}, "same_lengths",
            "keys are taken from x_1"),
    Mistake("cross_attention", "values from x_1", {"CrossAttention": cross_module("v1")}, "same_lengths",
            "values are taken from x_1"),
    Mistake("cross_attention", "keys from x_1 (shapes)", {"CrossAttention": cross_module("k1")}, "different_lengths",
            "taken from x_1"),
    # causal_pairs
    Mistake("causal_pairs", "no diagonal", {"causal_pairs": lambda n: [(i, j) for i in range(n) for j in range(i)]},
            "pairs_random", "leaves out the diagonal"),
    Mistake("causal_pairs", "(j, i)", {"causal_pairs": lambda n: [(j, i) for i, j in ref.causal_pairs(n)]},
            "pairs_random", "(j, i) instead of (i, j)"),
    Mistake("causal_pairs", "float count", {"count_causal_pairs": lambda n: n * (n + 1) / 2}, "count_closed_form",
            "integer division"),
    Mistake("causal_pairs", "loop count", {"count_causal_pairs": _loop_count}, "count_closed_form", "closed form",
            seeds=(3,)),
    Mistake("causal_pairs", "bool accepted", {"keys_attended": lambda p: int(p) + 1 if isinstance(
        p, bool) else ref.keys_attended(p)}, "invalid_arguments",
            "bool is a subclass of int"),
    Mistake("causal_pairs", "own key not counted", {"keys_attended": lambda p: ref.keys_attended(p) - 1},
            "keys_attended_values", "own key is not counted"),
    # causal_mask
    Mistake("causal_mask", "tril diagonal", {"tril_mask": lambda n: torch.ones(n, n).tril(-1)}, "masks",
            "diagonal is left out"),
    Mistake("causal_mask", "causal diagonal", {"causal_mask": lambda n: torch.ones(n, n, dtype=torch.bool).triu()},
            "masks", "diagonal is blocked too"),
    Mistake("causal_mask", "causal inverted", {"causal_mask": lambda n: torch.ones(n, n, dtype=torch.bool).tril()},
            "masks", "polarity is inverted"),
    Mistake("causal_mask", "no renormalization", {"mask_and_renormalize": lambda w: w.tril()},
            "mask_and_renormalize_values", "without renormalizing"),
    Mistake("causal_mask", "scores zero", {"mask_scores": lambda s: s * torch.ones(s.shape[-2:]).tril()},
            "mask_scores_values", "0 instead of -inf"),
    Mistake("causal_mask", "scores inverted", {"mask_scores": lambda s: s.masked_fill(torch.ones(
        s.shape[-2:], dtype=torch.bool).tril(-1), NEG_INF)}, "mask_scores_values", "polarity is inverted"),
    Mistake("causal_mask", "scores in place", {"mask_scores": lambda s: s.masked_fill_(torch.ones(
        s.shape[-2:], dtype=torch.bool).triu(1), NEG_INF)}, "inputs_unchanged", "in place"),
    *[
        Mistake("causal_mask", f"weights {kind}", {"causal_attention_weights": lambda s, d, kind=kind: learner_weights(
            s, d, kind)}, "causal_weights_values", says)
        for kind, says in (("diagonal", "diagonal is masked too"), ("inverted", "polarity is inverted"),
                           ("zero", "0 instead of -inf"), ("norenorm", "without renormalizing"),
                           ("dim", "wrong dimension"), ("dk", "divided by d_k"), ("noscale", "not scaled"),
                           ("nomask", "no causal mask"))
    ],
    Mistake("causal_mask", "properties zero", {"causal_attention_weights": lambda s, d: learner_weights(s, d, "zero")},
            "causal_weights_properties", "0 instead of -inf"),
    Mistake("causal_mask", "properties no renorm", {"causal_attention_weights": lambda s, d: learner_weights(
        s, d, "norenorm")}, "causal_weights_properties", "without renormalizing"),
    Mistake("causal_mask", "non-square", {"mask_scores": _non_square_ok}, "non_square_rejected", "ValueError"),
    *[
        Mistake("causal_mask", f"is_causal {kind}", {"is_causal": _is_causal(kind)}, "is_causal_cases", says)
        for kind, says in (("first", "every matrix of the batch"), ("zeroonly", "-inf above the diagonal counts"),
                           ("anyinf", "+inf does not"), ("tensor", "Python bool"), ("diagonal", "j > i"),
                           ("tolerance", "compare exactly"))
    ],
    # causal_attention
    *[
        Mistake("causal_attention", f"forward {kind}", {"CausalSelfAttention": causal_module(kind)},
                "forward_sequence", says)
        for kind, says in (("diagonal", "diagonal is masked too"), ("inverted", "polarity is inverted"),
                           ("zero", "0 instead of -inf"), ("norenorm", "without renormalizing"),
                           ("nomask", "no causal mask"), ("unsliced", "mask[:T, :T]"), ("dk", "divided by d_k"))
    ],
    Mistake("causal_attention", "future zero", {"CausalSelfAttention": causal_module("zero")}, "future_invariance",
            "0 instead of -inf"),
    Mistake("causal_attention", "future none", {"CausalSelfAttention": causal_module("nomask")}, "future_invariance",
            "sees keys after it"),
    Mistake("causal_attention", "batch diagonal", {"CausalSelfAttention": causal_module("diagonal")}, "forward_batch",
            "diagonal is masked too"),
    Mistake("causal_attention", "token reversed", {"token_output": lambda w, v: ref.token_output(
        torch.as_tensor(w).flip(0), v)}, "token_output_random", "reverse order"),
    Mistake("causal_attention", "too long accepted", {"CausalSelfAttention": causal_module("nolengthcheck")},
            "invalid_inputs", "should raise ValueError"),
    # kv_cache
    Mistake("kv_cache", "only new token", {"decode_step": _decode("onlynew")}, "decode_matches_full",
            "only the new token"),
    Mistake("kv_cache", "appended late", {"decode_step": _decode("late")}, "uses_cached_keys", "append them first"),
    Mistake("kv_cache", "no scale", {"decode_step": _decode("noscale")}, "batched_decode", "not scaled"),
    Mistake("kv_cache", "no full check", {"decode_step": _decode("nofull")}, "full_cache", "should raise ValueError"),
    Mistake("kv_cache", "append on dim 0", {"KVCache": _AppendDim0Cache}, "cache_append", "batched"),
    # the mistakes issue 9 lists, beyond the ones above
    Mistake("self_attention", "sqrt(d_v)", {"SelfAttention": self_attention_module("dv")}, "forward_sequence",
            "sqrt(d_v)"),
    Mistake("kv_cache", "masked with the wrong row", {"decode_step": _decode_wrong_row}, "uses_cached_keys",
            "newest key is masked out"),
    Mistake("kv_cache", "cache not used", {"decode_step": _decode_own_history}, "uses_cached_keys",
            "only the new token"),
    Mistake("causal_attention", "int lists", {"token_output": _token_output_int_lists}, "token_output_example",
            "floating dtype"),
    Mistake("multi_head", "heads in a list", {"MultiHeadAttentionWrapper": _ListHeads}, "wrapper_heads",
            "nn.ModuleList"),
    # masking at real score magnitudes (issue 8 item 4): finite fills above real scores, a softmax without the max
    *[
        Mistake(step, f"{label} large scores", overrides[step], check, says)
        for label, overrides, says in (("fill -1e4", fill_variants(-1e4), FINITE_FILL),
                                       ("fill -1e5", fill_variants(-1e5), FINITE_FILL),
                                       ("naive softmax", naive_softmax_variants(), UNSTABLE_SOFTMAX))
        for step, check in MAGNITUDE_CHECKS.items()
    ],
]


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: f"{m.step}-{m.label}")
def test_mistake_fails_its_check_and_is_named(mistake: Mistake) -> None:
    namespace = reference_with(**mistake.overrides)
    for seed in mistake.seeds:
        outcome = run_one(mistake.step, namespace, mistake.check, seed)
        assert outcome.status == "failed", f"seed {seed}: {outcome}"
        assert mistake.says in outcome.message, f"seed {seed}: {outcome.message}"


ISOLATED = [  # (step, overrides, exactly the checks that fail)
    ("weights", {"attention_weights": lambda s, d: torch.softmax(s.double() / math.sqrt(d), -1)}, {"float32_result"}),
    ("scores", {"attention_scores": _in_place_scores}, {"inputs_unchanged"}),
    ("embedding", {"embed": lambda ids, vocab_size=50_000, dim=3, seed=123: (
        torch.manual_seed(seed), nn.Embedding(vocab_size, dim))[1](torch.as_tensor(ids))}, {"detached_float32"}),
    ("projections", {"init_projections": _drawn((1, 0, 2))}, {"seeded_draws", "unseeded_draws"}),
    ("self_attention", {"SelfAttention": type("Randn", (ref.SelfAttention,), {"__init__": lambda self, a, b, c: (
        nn.Module.__init__(self), setattr(self, "W_query", nn.Parameter(torch.randn(a, b))),
        setattr(self, "W_key", nn.Parameter(torch.randn(a, b))),
        setattr(self, "W_value", nn.Parameter(torch.randn(a, c))))[0]})}, {"parameter_draws", "example_row"}),
    ("causal_mask", {"causal_mask": lambda n: torch.ones(n, n).triu(1)}, {"masks"}),
    ("causal_mask", {"mask_scores": _non_square_ok}, {"non_square_rejected"}),
    ("causal_attention", {"CausalSelfAttention": type("NoBuffer", (ref.CausalSelfAttention,), {
        "__init__": lambda self, a, b, c, n: (ref.CausalSelfAttention.__init__(self, a, b, c, n), delattr(
            self, "mask"), setattr(self, "mask", ref.causal_mask(n)))[0]})}, {"parameters_and_mask"}),
    ("kv_cache", {"decode_step": _decode("nofull")}, {"full_cache"}),
    ("cross_attention", {"CrossAttention": cross_module("k1")}, {"different_lengths", "same_lengths", "batched"}),
]


@pytest.mark.parametrize("step, overrides, failing", ISOLATED, ids=[f"{s}-{sorted(f)}" for s, _, f in ISOLATED])
def test_mistake_fails_only_its_aspect(step: str, overrides: dict[str, Any], failing: set[str]) -> None:
    assert set(failures(run_all(step, reference_with(**overrides), 6))) == failing


# ---------------------------------------------------------------------------------------------
# (d) messages never show hidden inputs
# ---------------------------------------------------------------------------------------------


class RecordingHandle(LocalHandle):
    """A local handle that records every tensor passed to or returned by learner code."""

    def _h_wrap(self, value: Any, label: str) -> Any:
        return to_plain(value, lambda obj: RecordingHandle(self._h_subject, obj, label))

    def _h_call(self, args: tuple, kwargs: dict, label: str) -> Any:
        record = self._h_subject.recorded  # type: ignore[attr-defined]
        record.extend(t.detach().clone() for _, t in tensors_in(args, kwargs))
        record.extend(repr(a) for a in args if isinstance(a, (int, float, str)) and not isinstance(a, bool))
        result = super()._h_call(args, kwargs, label)
        record.extend(t.detach().clone() for _, t in tensors_in((result,), {}))
        return result


class RecordingSubject(LocalSubject):
    def __init__(self, step: str, namespace: dict[str, Any]) -> None:
        super().__init__(step, namespace, f"attention/{MODULES[step]}.py")
        self.recorded: list[Any] = []

    def _lookup_api(self, name: str) -> RecordingHandle | None:
        return RecordingHandle(self, self._namespace[name], name) if name in self._namespace else None


def _printed_forms(recorded: list[Any]) -> set[str]:
    forms: set[str] = set()
    for item in recorded:
        if isinstance(item, str):
            forms.update({item} if len(item) > 3 else set())
        elif item.is_floating_point():
            finite = item[torch.isfinite(item)].double().flatten()
            forms.update(f"{v:.4f}" for v in finite.tolist() if 0.01 <= abs(v) < 1e6)
    return forms


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: f"{m.step}-{m.label}")
def test_messages_do_not_show_hidden_inputs(mistake: Mistake) -> None:
    if (mistake.step, mistake.check) in FACT_CHECKS or mistake.label == "loop count":
        pytest.skip("facts are public; the slow mutant is covered above")
    check = next(c for c in CHECKS.for_step(mistake.step) if c.name == mistake.check)
    subject = RecordingSubject(mistake.step, reference_with(**mistake.overrides))
    outcome = run_check(check, subject, 3)
    assert not outcome.passed
    leaked = [form for form in _printed_forms(subject.recorded) if form in outcome.message]
    assert leaked == [], outcome.message
    assert not re.search(r"tensor\(\[*-?\d", outcome.message) and "expected:" not in outcome.message


# ---------------------------------------------------------------------------------------------
# (e) coverage of course.yml, (f) determinism
# ---------------------------------------------------------------------------------------------


def test_every_step_has_checks_with_positive_weights() -> None:
    assert set(CHECKS.steps()) == set(STEPS)
    for step in STEPS:
        checks = CHECKS.for_step(step)
        assert 3 <= len(checks) <= 8, step
        assert all(c.weight > 0 and c.title.strip() for c in checks), step
        assert sum(c.weight for c in checks) > 0


def test_loading_is_idempotent() -> None:
    before = [(c.step, c.name) for c in HIDDEN.all()]
    assert load_hidden_checks() is HIDDEN
    assert [(c.step, c.name) for c in HIDDEN.all()] == before


def _recording(check: Any, seed: int) -> list[Any]:
    subject = RecordingSubject(check.step, ref.namespace())
    assert run_check(check, subject, seed).passed
    return subject.recorded


def _same(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(
        (isinstance(x, str) and x == y) or (
            isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor) and x.shape == y.shape and x.dtype == y.dtype
            and bool(torch.isclose(x, y, rtol=0, atol=0, equal_nan=True).all()))
        for x, y in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("step", STEPS)
def test_checks_are_deterministic_per_seed_and_differ_across_seeds(step: str) -> None:
    for check in CHECKS.for_step(step):
        first = _recording(check, 11)
        assert _same(first, _recording(check, 11)), check.name
        if (step, check.name) not in FACT_CHECKS:
            assert not _same(first, _recording(check, 12)), check.name


# ---------------------------------------------------------------------------------------------
# The reference
# ---------------------------------------------------------------------------------------------


def test_reference_reproduces_the_spec_facts() -> None:
    vocab = ref.build_vocab("The sun rises in the east")
    assert vocab == {"The": 0, "east": 1, "in": 2, "rises": 3, "sun": 4, "the": 5}
    ids = ref.encode("The sun rises in the east", vocab)
    assert ids.tolist() == [0, 4, 3, 2, 5, 1] and ids.dtype == torch.int64
    with torch.random.fork_rng(devices=[]):
        embeddings = ref.embed(ids)
        assert torch.allclose(embeddings[0], torch.tensor([0.3374, -0.1778, -0.3035]), atol=5e-5)
        torch.manual_seed(123)
        row = ref.SelfAttention(3, 2, 4)(embeddings)[1]
    assert torch.allclose(row, torch.tensor([0.5313, 1.3607, 0.7891, 1.3110]), atol=5e-5)
    assert ref.count_causal_pairs(7) == 28 and ref.causal_pairs(7)[:3] == [(0, 0), (1, 0), (1, 1)]
    assert ref.keys_attended(5) == 6
    assert torch.allclose(ref.token_output([0.1, 0.6, 0.3], [[1, 2], [3, 0], [4, 5]]), torch.tensor([3.1, 1.7]))
    scores = torch.randn(2, 6, 6)
    assert torch.allclose(ref.causal_attention_weights(scores, 4),
                          ref.mask_and_renormalize(torch.softmax(scores / 2, -1)), atol=1e-6)


def test_reference_stand_ins_follow_the_spec() -> None:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        wrapper = ref.MultiHeadAttentionWrapper(5, 3, 4, 2)
        x = torch.randn(2, 7, 5)
        assert torch.allclose(ref.MultiHeadAttention.from_wrapper(wrapper)(x), wrapper(x), atol=1e-6)
        attn = ref.CausalSelfAttention(5, 3, 4, 8)
        assert [n for n, _ in attn.named_parameters()] == ["W_query", "W_key", "W_value"]
        assert torch.equal(dict(attn.named_buffers())["mask"], ref.causal_mask(8))
        cache = ref.KVCache()
        rows = [ref.decode_step(attn, x[:, t], cache) for t in range(7)]
    assert torch.allclose(torch.stack(rows, 1), attn(x), atol=1e-6) and len(cache) == 7
    for bad in (-1, True, 2.5, "3"):
        with pytest.raises(ValueError):
            ref.count_causal_pairs(bad)
    with pytest.raises(ValueError):
        ref.mask_scores(torch.zeros(3, 4))
    with pytest.raises(ValueError):
        attn(torch.zeros(9, 5))


def test_standin_namespace() -> None:
    for step in COURSE.steps:
        namespace = ref.standin_namespace(step.id, step.api)
        assert set(namespace) == set(step.api)
        assert all(namespace[name] is getattr(ref, name) for name in step.api)
    with pytest.raises(KeyError):
        ref.standin_namespace("tokens", ["standin_namespace"])
    api = {name for step in COURSE.steps for name in step.api}
    assert set(ref.OWNERS) == api
    for step in COURSE.steps:  # a step module's public names: its own API and what it imports, nothing more
        module = importlib.import_module(f"autograder.reference.steps.{step.module}")
        public = {name for name in vars(module) if not name.startswith("_")}
        imports = {"annotations", "math", "operator", "Any", "torch", "nn", "F"}
        earlier = {n for s in COURSE.steps[: COURSE.step_ids.index(step.id)] for n in s.api}
        assert public - imports - earlier == set(step.api), step.id


def test_reference_is_independent_of_the_solutions() -> None:
    for path in Path(ref.__file__).parent.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(from|import)\s+(solutions|attention)\b", source, re.MULTILINE), path


def test_reference_steps_import_only_earlier_steps() -> None:
    """A sandboxed child loads the reference of earlier steps only: no step module may import a later one."""
    order = COURSE.step_ids
    for step in COURSE.steps:
        source = (Path(ref.__file__).parent / "steps" / f"{step.module}.py").read_text(encoding="utf-8")
        for imported in re.findall(r"^from \.(\w+) import", source, re.MULTILINE):
            assert order.index(imported) < order.index(step.id), (step.id, imported)
        assert not re.search(r"\b_sdpa\b|= *F\.scaled_dot_product_attention\b", source), step.id


def test_seeded_reference_draws_are_safe_when_submissions_are_checked_in_parallel() -> None:
    """``--jobs 2`` checks two submissions in two threads of one process, with one torch generator."""
    from concurrent.futures import ThreadPoolExecutor

    from autograder.hidden._common import draws

    shapes = {"W_query": (9, 7), "W_key": (9, 7), "W_value": (9, 5)}
    order = ("W_query", "W_key", "W_value")
    expected = {seed: draws(seed, shapes, order) for seed in range(40)}

    def redraw(seed: int) -> bool:
        return all(torch.equal(a, b) for a, b in zip(draws(seed, shapes, order).values(),
                                                     expected[seed].values(), strict=True))

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(redraw, [seed for _ in range(25) for seed in range(40)]))
