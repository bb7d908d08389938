"""Common mistakes, each a small change to the reference, and the check and words that must catch it.

`MISTAKES` is the course's mistake catalogue as test cases: `test_hidden_checks` asserts the hidden
check fails and names the mistake; `test_parity` asserts the learner's own public checks name it too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from sweep_styles import fill_variants, naive_softmax_variants
from torch import nn

from autograder import reference as ref
from selfcheck.magnitude import FINITE_FILL, UNSTABLE_SOFTMAX
from selfcheck.mistakes import SOFTMAX_OVERFLOW

NEG_INF = float("-inf")


def learner_weights(scores: torch.Tensor, d_k: float, kind: str = "ok", causal: bool = True) -> torch.Tensor:
    """Attention weights as a learner might write them, with one mistake ``kind``."""
    scaled = {"dk": scores / d_k, "noscale": scores}.get(kind, scores / math.sqrt(d_k))
    t_q, t_k = scores.shape[-2:]
    ones = torch.ones(t_q, t_k, dtype=torch.bool)
    if kind == "after":  # scaled after the softmax
        scaled = scores
    if not causal:
        weights = torch.softmax(scaled, dim=-2 if kind == "dim" else -1)
        return weights / math.sqrt(d_k) if kind == "after" else weights
    blocked = {"diagonal": ones.triu(0), "inverted": ones.tril(-1)}.get(kind, ones.triu(1))
    if kind == "zero":
        return torch.softmax(scaled.masked_fill(blocked, 0.0), dim=-1)
    if kind == "norenorm":
        return torch.softmax(scaled, dim=-1).masked_fill(blocked, 0.0)
    if kind == "nomask":
        return torch.softmax(scaled, dim=-1)
    if kind == "added":  # the boolean mask added to the raw scores
        return torch.softmax((scores + blocked) / math.sqrt(d_k), dim=-1)
    if kind == "maskafter":
        return torch.softmax(scaled, dim=-1).masked_fill(blocked, NEG_INF)
    if kind == "after":
        return torch.softmax(scaled.masked_fill(blocked, NEG_INF), dim=-1) / math.sqrt(d_k)
    return torch.softmax(scaled.masked_fill(blocked, NEG_INF), dim=-2 if kind == "dim" else -1)


def overflowing_softmax(scores: torch.Tensor, d_k: float) -> torch.Tensor:
    """A hand-written softmax that subtracts no row maximum: NaN for scaled scores of a few hundred."""
    exp = (scores / math.sqrt(d_k)).exp()
    return exp / exp.sum(-1, keepdim=True)


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
            d_k = {"dv": v.shape[-1], "din": x.shape[-1]}.get(kind, q.shape[-1])  # sqrt(d_v), sqrt(d_in): wrong
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


def drawn(order: tuple[int, int, int], draw: Callable = torch.rand) -> Callable:
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


def decode_wrong_row(attn: nn.Module, x_t: torch.Tensor, cache: Any) -> torch.Tensor:
    """Appends first, then masks with the row of the previous position: the new token's own key is hidden."""
    if len(cache) >= attn.mask.shape[-1]:
        raise ValueError("full")
    q, k, v = x_t @ attn.W_query, x_t @ attn.W_key, x_t @ attn.W_value
    cache.append(k, v)
    t = len(cache)
    row = torch.ones(t, dtype=torch.bool) if t == 1 else torch.arange(t) >= t - 1  # blocks key t-1 (its own)
    scores = (q.unsqueeze(-2) @ cache.keys.mT).squeeze(-2).masked_fill(row if t > 1 else ~row, NEG_INF)
    return (torch.softmax(scores / math.sqrt(q.shape[-1]), -1).unsqueeze(-2) @ cache.values).squeeze(-2)



def _decode_own_history(attn: nn.Module, x_t: torch.Tensor, cache: Any) -> torch.Tensor:
    """Fills the cache but attends to a history of its own, never to what the cache holds."""
    if len(cache) >= attn.mask.shape[-1]:
        raise ValueError("full")
    q, k, v = x_t @ attn.W_query, x_t @ attn.W_key, x_t @ attn.W_value
    cache.append(k, v)
    history = cache.__dict__.setdefault("_own_history", [])  # one per sequence (an id() can be reused)
    history.append((k, v))
    keys, values = torch.stack([h[0] for h in history], -2), torch.stack([h[1] for h in history], -2)
    weights = torch.softmax(q.unsqueeze(-2) @ keys.mT / math.sqrt(q.shape[-1]), -1)
    return (weights @ values).squeeze(-2)


def _token_output_int_lists(weights_row: Any, values: Any) -> torch.Tensor:
    w, v = torch.as_tensor(weights_row), torch.as_tensor(values)
    if v.shape[-2] < w.shape[-1]:
        raise ValueError("too few rows")
    return w @ v[: w.shape[-1]]  # int64 values meet float weights: torch's dtype error


class ListHeads(ref.MultiHeadAttentionWrapper):
    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int, num_heads: int) -> None:
        nn.Module.__init__(self)
        self.heads = [ref.SelfAttention(d_in, d_out_kq, d_out_v) for _ in range(num_heads)]


def decode(kind: str) -> Callable:
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


def non_square_ok(scores: torch.Tensor) -> torch.Tensor:
    t_q, t_k = scores.shape[-2:]
    return scores.masked_fill(torch.ones(t_q, t_k, dtype=torch.bool).triu(1), NEG_INF)


def in_place_scores(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
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
    Mistake("projections", "order", {"init_projections": drawn((1, 0, 2))}, "seeded_draws", "wrong order"),
    Mistake("projections", "randn", {"init_projections": drawn((0, 1, 2), torch.randn)}, "seeded_draws",
            "torch.randn"),
    Mistake("projections", "reseeded", {"init_projections": _reseeding}, "unseeded_draws", "reseeded"),
    Mistake("projections", "returned order", {"project_qkv": lambda x, q, k, v: ref.project_qkv(x, k, q, v)},
            "project_sequence", "wrong order"),
    Mistake("projections", "in place", {"project_qkv": _project_in_place}, "project_unchanged", "in place"),
    # scores
    Mistake("scores", "scaled", {"attention_scores": lambda q, k: ref.attention_scores(q, k) / math.sqrt(
        q.shape[-1])}, "query_matrix", "already scaled"),
    Mistake("scores", "transposed", {"attention_scores": lambda q, k: k @ q.mT}, "query_matrix", "keys @ queries^T"),
    Mistake("scores", "in place", {"attention_scores": in_place_scores}, "inputs_unchanged", "in place"),
    # weights
    Mistake("weights", "wrong dim", {"attention_weights": lambda s, d: learner_weights(s, d, "dim", causal=False)},
            "scaled_softmax", "wrong dimension"),
    Mistake("weights", "d_k", {"attention_weights": lambda s, d: learner_weights(s, d, "dk", causal=False)},
            "scaled_softmax", "divided by d_k instead of sqrt(d_k)"),
    Mistake("weights", "no scale", {"attention_weights": lambda s, d: learner_weights(s, d, "noscale", causal=False)},
            "scaled_softmax", "not scaled"),
    Mistake("weights", "wrong dim (rows)", {"attention_weights": lambda s, d: torch.softmax(s / math.sqrt(d), -2)},
            "rows_sum_to_one", "wrong dimension"),
    Mistake("weights", "softmax overflows", {"attention_weights": overflowing_softmax}, "batched",
            SOFTMAX_OVERFLOW),
    Mistake("weights", "softmax overflows in float64", {"attention_weights": lambda s, d: overflowing_softmax(
        s.double(), d).to(s.dtype)}, "batched", SOFTMAX_OVERFLOW),
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
    Mistake("causal_mask", "non-square", {"mask_scores": non_square_ok}, "non_square_rejected", "ValueError"),
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
                           ("nomask", "no causal mask"), ("unsliced", "mask was used"), ("dk", "divided by d_k"),
                           ("added", "boolean mask was added"), ("after", "scaled after the softmax"))
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
    Mistake("kv_cache", "only new token", {"decode_step": decode("onlynew")}, "decode_matches_full",
            "only the new token"),
    Mistake("kv_cache", "appended late", {"decode_step": decode("late")}, "uses_cached_keys", "append them first"),
    Mistake("kv_cache", "no scale", {"decode_step": decode("noscale")}, "batched_decode", "not scaled"),
    Mistake("kv_cache", "no full check", {"decode_step": decode("nofull")}, "full_cache", "should raise ValueError"),
    Mistake("kv_cache", "append on dim 0", {"KVCache": _AppendDim0Cache}, "cache_append", "batched"),
    # the mistakes issue 9 lists, beyond the ones above
    Mistake("self_attention", "sqrt(d_v)", {"SelfAttention": self_attention_module("dv")}, "forward_sequence",
            "sqrt(d_v)"),
    Mistake("kv_cache", "masked with the wrong row", {"decode_step": decode_wrong_row}, "uses_cached_keys",
            "newest key is masked out"),
    Mistake("kv_cache", "cache not used", {"decode_step": _decode_own_history}, "uses_cached_keys",
            "only the new token"),
    Mistake("causal_attention", "int lists", {"token_output": _token_output_int_lists}, "token_output_example",
            "floating dtype"),
    Mistake("multi_head", "heads in a list", {"MultiHeadAttentionWrapper": ListHeads}, "wrapper_heads",
            "nn.ModuleList"),
    # real mistakes that lost points unnamed: now named by both sides
    Mistake("self_attention", "sqrt(d_in)", {"SelfAttention": self_attention_module("din")}, "forward_sequence",
            "sqrt(d_in)"),
    Mistake("scores", "keys.T on batched keys", {"attention_scores": lambda q, k: q @ k.permute(  # what k.T does
        *reversed(range(k.dim()))) if q.dim() > 1 else k @ q}, "batched", "keys.T"),
    Mistake("weights", "scaled after the softmax", {"attention_weights": lambda s, d: learner_weights(
        s, d, "after", causal=False)}, "scaled_softmax", "scaled after the softmax"),
    Mistake("causal_mask", "weights scaled after the softmax", {"causal_attention_weights": lambda s, d: (
        learner_weights(s, d, "after"))}, "causal_weights_values", "scaled after the softmax"),
    Mistake("causal_mask", "boolean mask added", {"causal_attention_weights": lambda s, d: learner_weights(
        s, d, "added")}, "causal_weights_values", "boolean mask was added"),
    Mistake("causal_mask", "boolean mask added to scores", {"mask_scores": lambda s: s + torch.ones(
        s.shape[-2:], dtype=torch.bool).triu(1)}, "mask_scores_values", "boolean mask was added"),
    Mistake("causal_mask", "masked after the softmax", {"causal_attention_weights": lambda s, d: learner_weights(
        s, d, "maskafter")}, "causal_weights_values", "masked after the softmax"),
    Mistake("causal_mask", "finfo.min fill", {"mask_scores": lambda s: s.masked_fill(torch.ones(
        s.shape[-2:], dtype=torch.bool).triu(1), torch.finfo(s.dtype).min)}, "mask_scores_values", "finfo"),
    Mistake("causal_attention", "masked after the softmax", {"CausalSelfAttention": causal_module("maskafter")},
            "forward_sequence", "masked after the softmax"),
    # masking at real score magnitudes (issue 8 item 4): finite fills above real scores, a softmax without the max
    *[
        Mistake(step, f"{label} large scores", overrides[step], check, says)
        for label, overrides, says in (("fill -1e4", fill_variants(-1e4), FINITE_FILL),
                                       ("fill -1e5", fill_variants(-1e5), FINITE_FILL),
                                       ("naive softmax", naive_softmax_variants(), UNSTABLE_SOFTMAX))
        for step, check in MAGNITUDE_CHECKS.items()
    ],
]
