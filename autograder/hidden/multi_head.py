"""Hidden checks of step 8, ``multi_head``: ``MultiHeadAttentionWrapper`` and ``MultiHeadAttention``."""

from __future__ import annotations

import math

import torch
from torch import nn

from autograder import reference as ref
from selfcheck import CheckFailed, Handle, Subject, expect_handle, expect_inputs_unchanged, parameters
from selfcheck import mistakes as m
from selfcheck.compare import expect_parameters

from . import HIDDEN
from ._common import (
    build_module,
    distinct,
    draw_seed,
    expect_close_named,
    expect_computed,
    expect_draws,
    f64,
    isolated,
    projection_weights,
    randint,
    randn,
    sdpa,
    seeded,
)

STEP = "multi_head"
SPLIT_SCRAMBLED, MERGE_SCRAMBLED, WIDE_SCALE = m.SPLIT_SCRAMBLED, m.MERGE_SCRAMBLED, m.WIDE_SCALE  # catalogue


def _dims(rng: torch.Generator) -> tuple[int, int, int, int, int]:
    """``d_in, d_out_kq, d_out_v, heads, T``: all different, and T differs from the heads' total widths."""
    heads = randint(rng, 2, 5)
    d_in, d_out_kq, d_out_v = [d for d in distinct(rng, 4, 2, 10) if d != heads][:3]
    taken = {d_in, d_out_kq, d_out_v, heads, heads * d_out_kq, heads * d_out_v}
    length = next(t for t in distinct(rng, 12, 5, 16) if t not in taken)
    return d_in, d_out_kq, d_out_v, heads, length


def _input(rng: torch.Generator, batch: int, length: int, d_in: int, w_query: torch.Tensor,
           w_key: torch.Tensor, heads: int) -> torch.Tensor:
    """An input whose per-head scaled scores have a spread near 1.5 (softmax neither flat nor saturated)."""
    x = randn(rng, batch, length, d_in)
    q = _split(x.double() @ w_query, heads)
    k = _split(x.double() @ w_key, heads)
    spread = float((q @ k.mT / math.sqrt(q.shape[-1])).std())
    return (x * math.sqrt(1.5 / spread)).to(torch.float32) if spread > 0 else x


def _wide_shapes(d_in: int, d_out_kq: int, d_out_v: int, heads: int) -> list[tuple[int, int]]:
    return [(d_in, heads * d_out_kq), (d_in, heads * d_out_kq), (d_in, heads * d_out_v)]


def _split(x: torch.Tensor, heads: int) -> torch.Tensor:
    return m.split_heads(x, heads)  # (..., T, heads * d) -> (..., heads, T, d)


def _expected_and_mistakes(
    x: torch.Tensor, w_query: torch.Tensor, w_key: torch.Tensor, w_value: torch.Tensor, heads: int
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The oracle (F.scaled_dot_product_attention per head) and the catalogue's mistakes' outputs."""
    (x,) = f64(x)
    q, k, v = (m.split_heads(x @ w, heads) for w in (w_query, w_key, w_value))
    _, mistakes = m.multi_head(x, w_query, w_key, w_value, heads)
    return m.merge_heads(sdpa(q, k, v)), mistakes


def _wrapper_weights(wrapper: Handle, d_in: int, d_out_kq: int, d_out_v: int, heads: int,
                     rng: torch.Generator) -> list[torch.Tensor]:
    """The grader's own matrices loaded into the wrapper's heads, as three wide matrices (head h in column block h)."""
    module_list = expect_handle(wrapper.heads, "MultiHeadAttentionWrapper(...).heads", base="ModuleList")
    modules = list(module_list._modules.values())
    if len(modules) != heads:
        raise CheckFailed(f"MultiHeadAttentionWrapper(..., num_heads={heads}).heads holds {len(modules)} modules")
    shapes = [(d_in, d_out_kq), (d_in, d_out_kq), (d_in, d_out_v)]
    per_head = [projection_weights(head, f"head {h} of MultiHeadAttentionWrapper", shapes, rng)
                for h, head in enumerate(modules)]
    return [torch.cat([weights[i] for weights in per_head], dim=1) for i in range(3)]


@HIDDEN.check(STEP, "MultiHeadAttentionWrapper: .heads is an nn.ModuleList of num_heads separate SelfAttention "
              "modules", weight=1)
def wrapper_heads(subject: Subject, rng: torch.Generator) -> None:
    d_in, d_out_kq, d_out_v, heads, _ = _dims(rng)
    wrapper = build_module(subject, "MultiHeadAttentionWrapper", d_in, d_out_kq, d_out_v, heads, seed=draw_seed(rng))
    module_list = expect_handle(wrapper.heads, "MultiHeadAttentionWrapper(...).heads", base="ModuleList")
    if len(module_list) != heads:
        raise CheckFailed(f"MultiHeadAttentionWrapper(..., num_heads={heads}).heads holds {len(module_list)} modules")
    for index, head in enumerate(module_list._modules.values()):
        if not isinstance(head, Handle) or not head.has_base_named("SelfAttention"):
            kind = head.type_name if isinstance(head, Handle) else type(head).__name__
            raise CheckFailed(f"MultiHeadAttentionWrapper(...).heads[{index}] should be a SelfAttention, not a {kind}")
    names = parameters(wrapper)
    if len(names) != 3 * heads:
        raise CheckFailed(
            f"MultiHeadAttentionWrapper with {heads} heads has {len(names)} parameters, expected {3 * heads} "
            f"(W_query, W_key, W_value per head)" + m.mistake_note(m.SHARED_HEAD)
        )
    # Built to compute: with the grader's weights in its heads, the wrapper attends (a structure that returns
    # nothing computed gets nothing here; a named mistake of the output costs wrapper_forward, not this check).
    length = next(t for t in distinct(rng, 12, 5, 16) if t not in {d_in, heads * d_out_v})
    w_q, w_k, w_v = _wrapper_weights(wrapper, d_in, d_out_kq, d_out_v, heads, rng)
    x = _input(rng, 1, length, d_in, w_q, w_k, heads)[0]
    expected, mistakes = _expected_and_mistakes(x, w_q, w_k, w_v, heads)
    expect_computed(wrapper(x), expected, "MultiHeadAttentionWrapper on a hidden (T, d_in) input", inputs=(x,),
                    mistakes=mistakes)


@HIDDEN.check(STEP, "MultiHeadAttentionWrapper: the heads are built one after another, as SelfAttention draws them",
              weight=1)
def wrapper_draws(subject: Subject, rng: torch.Generator) -> None:
    d_in, d_out_kq, d_out_v, heads, _ = _dims(rng)
    seed = draw_seed(rng)
    wrapper = build_module(subject, "MultiHeadAttentionWrapper", d_in, d_out_kq, d_out_v, heads, seed=seed)
    expected = dict(seeded(seed, lambda: ref.MultiHeadAttentionWrapper(d_in, d_out_kq, d_out_v, heads))
                    .named_parameters())
    expect_draws(parameters(wrapper), expected, seed, "MultiHeadAttentionWrapper built right after torch.manual_seed")


@HIDDEN.check(STEP, "MultiHeadAttentionWrapper: the heads' outputs concatenated on the last dimension "
              "(one sequence and a batch)", weight=2)
def wrapper_forward(subject: Subject, rng: torch.Generator) -> None:
    d_in, d_out_kq, d_out_v, heads, length = _dims(rng)
    wrapper = build_module(subject, "MultiHeadAttentionWrapper", d_in, d_out_kq, d_out_v, heads, seed=draw_seed(rng))
    w_q, w_k, w_v = _wrapper_weights(wrapper, d_in, d_out_kq, d_out_v, heads, rng)
    x = _input(rng, randint(rng, 2, 4), length, d_in, w_q, w_k, heads)
    expected, mistakes = _expected_and_mistakes(x, w_q, w_k, w_v, heads)
    expect_close_named(wrapper(x), expected, "MultiHeadAttentionWrapper on a hidden (B, T, d_in) input",
                       mistakes=mistakes)
    single, single_mistakes = _expected_and_mistakes(x[0], w_q, w_k, w_v, heads)
    expect_close_named(wrapper(x[0]), single, "MultiHeadAttentionWrapper on a hidden (T, d_in) input",
                       mistakes=single_mistakes)


@HIDDEN.check(STEP, "MultiHeadAttention: W_query, W_key (d_in, heads*d_out_kq) and W_value (d_in, heads*d_out_v) "
              "from torch.rand, in that order", weight=1.5)
def mha_draws(subject: Subject, rng: torch.Generator) -> None:
    d_in, d_out_kq, d_out_v, heads, _ = _dims(rng)
    seed = draw_seed(rng)
    module = build_module(subject, "MultiHeadAttention", d_in, d_out_kq, d_out_v, heads, seed=seed)
    expected = dict(seeded(seed, lambda: ref.MultiHeadAttention(d_in, d_out_kq, d_out_v, heads)).named_parameters())
    expect_draws(parameters(module), expected, seed, "MultiHeadAttention built right after torch.manual_seed")


@HIDDEN.check(STEP, "MultiHeadAttention: head h uses column block h; heads split and merged by reshaping "
              "(one sequence and a batch)", weight=2.5)
def mha_forward(subject: Subject, rng: torch.Generator) -> None:
    d_in, d_out_kq, d_out_v, heads, length = _dims(rng)
    module = build_module(subject, "MultiHeadAttention", d_in, d_out_kq, d_out_v, heads, seed=draw_seed(rng))
    wide = projection_weights(module, "MultiHeadAttention", _wide_shapes(d_in, d_out_kq, d_out_v, heads), rng)
    x = _input(rng, randint(rng, 2, 4), length, d_in, wide[0], wide[1], heads)
    expected, mistakes = _expected_and_mistakes(x, *wide, heads)
    expect_close_named(module(x), expected, "MultiHeadAttention on a hidden (B, T, d_in) input", mistakes=mistakes)
    single, single_mistakes = _expected_and_mistakes(x[0], *wide, heads)
    expect_close_named(module(x[0]), single, "MultiHeadAttention on a hidden (T, d_in) input", mistakes=single_mistakes)


@HIDDEN.check(STEP, "MultiHeadAttention agrees with torch.nn.MultiheadAttention (its in-projections from your "
              "weights, no bias, identity output projection)", weight=1.5)
def mha_vs_torch(subject: Subject, rng: torch.Generator) -> None:
    heads, d_head, length = distinct(rng, 3, 2, 6)
    d_in = heads * d_head  # nn.MultiheadAttention projects to its own width: d_in = heads * d_out_kq = heads * d_out_v
    module = build_module(subject, "MultiHeadAttention", d_in, d_head, d_head, heads, seed=draw_seed(rng))
    w_q, w_k, w_v = projection_weights(module, "MultiHeadAttention", [(d_in, d_in)] * 3, rng)
    x = _input(rng, randint(rng, 2, 4), length + 6, d_in, w_q, w_k, heads)

    def torch_reference() -> torch.Tensor:
        torch_mha = nn.MultiheadAttention(d_in, heads, bias=False, batch_first=True, dtype=torch.float64)
        with torch.no_grad():
            torch_mha.in_proj_weight.copy_(torch.cat([w_q.T, w_k.T, w_v.T], dim=0))
            torch_mha.out_proj.weight.copy_(torch.eye(d_in, dtype=torch.float64))
            xd = x.double()
            return torch_mha(xd, xd, xd, need_weights=False)[0]

    expected = isolated(torch_reference)
    _, mistakes = _expected_and_mistakes(x, w_q, w_k, w_v, heads)
    expect_close_named(module(x), expected, "MultiHeadAttention compared with torch.nn.MultiheadAttention",
                       mistakes=mistakes)


@HIDDEN.check(STEP, "MultiHeadAttention.from_wrapper(wrapper): head h's matrices in column block h, "
              "the same output as the wrapper", weight=2)
def from_wrapper(subject: Subject, rng: torch.Generator) -> None:
    d_in, d_out_kq, d_out_v, heads, length = _dims(rng)
    wrapper = build_module(subject, "MultiHeadAttentionWrapper", d_in, d_out_kq, d_out_v, heads, seed=draw_seed(rng))
    wide = _wrapper_weights(wrapper, d_in, d_out_kq, d_out_v, heads, rng)
    built = expect_handle(subject.MultiHeadAttention.from_wrapper(wrapper),
                          "MultiHeadAttention.from_wrapper(wrapper)", base="Module")
    found = expect_parameters(built, "MultiHeadAttention.from_wrapper(wrapper)", dict(zip(
        ("W_query", "W_key", "W_value"), [tuple(w.shape) for w in wide], strict=True)), dtype=None)
    got = [value.detach().double() for value in found.values()]  # checked against the grader's own, below
    for name, actual, expected, width in zip(("W_query", "W_key", "W_value"), got, wide,
                                             (d_out_kq, d_out_kq, d_out_v), strict=True):
        reversed_blocks = torch.cat(list(reversed(expected.split(width, dim=1))), dim=1)
        expect_close_named(actual, expected, f"from_wrapper(wrapper).{name} (the heads' {name} side by side)",
                           mistakes={m.BLOCKS_REVERSED: reversed_blocks}, atol=1e-6)
    x = _input(rng, randint(rng, 2, 4), length, d_in, wide[0], wide[1], heads)
    expected, mistakes = _expected_and_mistakes(x, *wide, heads)
    expect_close_named(built(x), expected, "from_wrapper(wrapper) on a hidden (B, T, d_in) input, compared with "
                       "the wrapper's heads", mistakes=mistakes)


@HIDDEN.check(STEP, "neither module modifies its input", weight=0.5)
def inputs_unchanged(subject: Subject, rng: torch.Generator) -> None:
    d_in, d_out_kq, d_out_v, heads, length = _dims(rng)
    for class_name in ("MultiHeadAttentionWrapper", "MultiHeadAttention"):
        module = build_module(subject, class_name, d_in, d_out_kq, d_out_v, heads, seed=draw_seed(rng))
        if class_name == "MultiHeadAttention":
            wide = projection_weights(module, class_name, _wide_shapes(d_in, d_out_kq, d_out_v, heads), rng)
        else:
            wide = _wrapper_weights(module, d_in, d_out_kq, d_out_v, heads, rng)
        x = _input(rng, 2, length, d_in, wide[0], wide[1], heads)
        result = module(x)
        expect_inputs_unchanged(subject, f"{class_name}.forward")
        expected, mistakes = _expected_and_mistakes(x, *wide, heads)
        expect_computed(result, expected, f"{class_name} on a hidden (B, T, d_in) input", inputs=(x,),
                        mistakes=mistakes)
