"""The course's one catalogue of common mistakes: what each one says, and what each one produces.

Recognising a mistake from its output is mechanism, not secret: the public checks (``pytest``)
run these builders on the course's public inputs, the hidden checks on hidden inputs, and both
name a mistake with the same words. A builder takes a step's inputs and returns
``{description: what that mistake would return}``; `selfcheck.compare.expect_close` (and the exact-value
helpers below) name a mistake only when the inputs tell it apart from the right answer and every other.
When two mistakes give the same result on the inputs at hand, both are listed, never one guessed.

Builders use torch only (float64), never the grader's reference, and draw nothing from the global
generator (seeded draws go through a private ``torch.Generator``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from .named import name_mistake

MISTAKE_PREFIX = "This looks like a common mistake"
AMBIGUOUS_PREFIX = "This matches several common mistakes that give the same result on these inputs"

# --- steps 1-3: tokens, embedding, projections ---------------------------------------------------
LOWERCASED = "the words were lowercased: case must be kept ('The' and 'the' are different words)"
APPEARANCE_ORDER = "the words are numbered in order of appearance instead of sorted"
SPLIT_ON_SPACE = "text.split(' ') splits on single spaces only; text.split() splits on any whitespace"
IDS_FROM_ONE = "ids start at 1 instead of 0"
CASE_INSENSITIVE_SORT = "the words are sorted ignoring case; use Python's own order (sorted(...) without a key)"
VOCAB_REBUILT = "the vocabulary was rebuilt from the text instead of using the vocab argument"
FLOAT_EMPTY = "torch.tensor([]) is float32; pass dtype=torch.long (or torch.int64)"
KEYERROR_VAGUE = "its message does not name the word: raise KeyError(word), or let vocab[word] raise it"
SEED_IGNORED = "the seed argument is ignored (seed 123 is used whatever seed is given)"
EMBED_RANDN = "torch.randn(vocab_size, dim) instead of nn.Embedding(vocab_size, dim)"
WRONG_ORDER = "the parameters are drawn in the wrong order (torch.rand for W_query, then W_key, then W_value)"
RANDN = "torch.randn instead of torch.rand (SPEC draws the projections uniformly from [0, 1))"
RESEEDED = "the generator is reseeded when seed is None: call torch.manual_seed only when a seed is given"

# --- steps 4-7: scores, weights, context, self-attention -----------------------------------------
SCORES_SCALED = ("the scores are already scaled by 1/sqrt(d_k): attention_scores returns the unnormalized scores "
                 "(scaling belongs to attention_weights)")
SCORES_DIVIDED = "the scores are divided by d_k: attention_scores returns the unnormalized scores"
SCORES_TRANSPOSED = "keys @ queries^T instead of queries @ keys^T (the result is transposed)"
WRONG_DIM = "softmax over the wrong dimension (every row, one query over all keys, must sum to 1: use dim=-1)"
SCALE_DK = "scores divided by d_k instead of sqrt(d_k)"
SCALE_DV = "scores divided by sqrt(d_v), the values' width, instead of sqrt(d_k), the width of queries and keys"
NO_SCALE = "scores not scaled: they were not divided by sqrt(d_k)"
SOFTMAX_OVERFLOW = ("softmax without subtracting the row maximum overflows: exp of large scores is inf (of very "
                    "negative ones 0), and inf / inf or 0 / 0 is NaN; subtract each row's maximum before exp "
                    "(torch.softmax does)")
SCALE_DIN = "scores divided by sqrt(d_in), the width of the input tokens, instead of sqrt(d_out_kq), that of the keys"
SCALED_AFTER = "scaled after the softmax: divide the scores by sqrt(d_k) before the softmax, so each row sums to 1"
QK_SWAPPED = "queries and keys swapped (keys @ queries^T instead of queries @ keys^T)"
WEIGHTS_TRANSPOSED = "the weights are transposed before multiplying the values (weights^T @ values)"

# --- steps 8-9: multi-head and cross-attention ---------------------------------------------------
SPLIT_SCRAMBLED = (
    "heads scrambled: the projections were reshaped straight to (..., heads, T, d_head) without a transpose; "
    "reshape to (..., T, heads, d_head), then transpose the heads before T"
)
MERGE_SCRAMBLED = (
    "heads scrambled when merging: (..., heads, T, d_v) was reshaped to (..., T, heads * d_v) without "
    "transposing back to (..., T, heads, d_v) first"
)
WIDE_SCALE = "scores scaled by sqrt(num_heads * d_out_kq) instead of sqrt(d_out_kq), the width of one head"
SHARED_HEAD = "[SelfAttention(...)] * num_heads repeats one module: build a new SelfAttention for every head"
HEADS_LIST = "a plain Python list does not register the heads as submodules: use nn.ModuleList([...])"
BLOCKS_REVERSED = "the heads' blocks are in reverse order"
SWAPPED_INPUTS = "x_1 and x_2 are swapped: the queries come from x_1, the keys and values from x_2"
QUERIES_FROM_X2 = "the queries are taken from x_2; they come from x_1 (keys and values come from x_2)"
KV_FROM_X1 = "the keys and values are taken from x_1 (that is self-attention on x_1); they come from x_2"
KEYS_FROM_X1 = "the keys are taken from x_1; keys and values both come from x_2"
VALUES_FROM_X1 = "the values are taken from x_1; keys and values both come from x_2"
CROSS_SHAPE_ERROR = ("With T_1 != T_2 a shape error usually means that the keys or the values were taken from x_1: "
                     "both come from x_2.")

# --- step 10: causal pairs -----------------------------------------------------------------------
PAIRS_REVERSED = "the pairs are (j, i) instead of (i, j): the query's position i comes first"
PAIRS_NO_DIAGONAL = "j < i leaves out the diagonal: every query is also compared with its own key (j <= i)"
PAIRS_BY_KEY = "ordered by j, then i; order by the query i first, then the key j"
PAIRS_ALL = "every pair (i, j) is listed; causal attention skips the keys after the query (j > i)"
PAIRS_FUTURE = "j >= i lists the keys after the query; causal attention uses j <= i"
COUNT_NO_DIAGONAL = "n * n / 2 or n (n - 1) / 2 leaves out the diagonal pairs (i, i)"
COUNT_ALL = "n * n counts every pair, not only j <= i"
COUNT_FLOAT = "use integer division // for an exact count"
OWN_KEY_NOT_COUNTED = "the query's own key is not counted (position 0 attends to one key, itself)"
BOOL_IS_INT = "bool is a subclass of int: reject it explicitly"
CLOSED_FORM = (
    "count_causal_pairs must use a closed form (1 + 2 + ... + n = n (n + 1) / 2, computed with //), "
    "not a loop or a list of the pairs: it has to be instant even for 10**9 tokens"
)

# --- steps 11-13: masks, causal attention, KV cache ----------------------------------------------
DIAGONAL_MASKED = "the diagonal is masked too: every query must still see its own key (torch.triu(..., diagonal=1))"
INVERTED = "the mask's polarity is inverted: the earlier keys are blocked instead of the later ones"
ZERO_NOT_INF = "masked with 0 instead of -inf before the softmax (exp(0) = 1, so blocked keys still get weight)"
NO_RENORM = "masked after the softmax without renormalizing: the rows no longer sum to 1"
NO_MASK = "no causal mask: the mask was not applied, so every query also sees the keys after it"
MASK_ADDED = ("the boolean mask was added to the scores (True counts as 1): fill the blocked scores with -inf "
              "instead, scores.masked_fill(mask, float('-inf'))")
MASKED_AFTER = "masked after the softmax: fill the scores with -inf before the softmax (the weights now hold -inf)"
FINFO_FILL = ("torch.finfo(dtype).min instead of -inf: it is safe inside a softmax, but mask_scores promises "
              "float('-inf') above the diagonal")
PLUS_INF = "+inf instead of -inf (softmax would put all the weight on the blocked keys)"
COLUMNS_RENORMALIZED = "the columns are renormalized instead of the rows (sum over dim=-1)"
TRIL_NO_DIAGONAL = "the diagonal is left out: a query attends to its own key (torch.tril(..., diagonal=0))"
TRIL_INVERTED = "the polarity is inverted: ones above the diagonal instead of on and below"
TRIL_UPPER = "ones on and above the diagonal: the mask keeps the past, so the ones go on and below"
BOOL_DIAGONAL = "the diagonal is blocked too: use torch.triu(..., diagonal=1)"
BOOL_INVERTED = "the polarity is inverted: True must mark the blocked keys, those after the query"
BOOL_BELOW = "True below the diagonal: the blocked keys are those after the query (above the diagonal)"
UNSLICED = ("a shape error with T < context_length usually means the whole (context_length, context_length) mask "
            "was used: only its part for the first T queries and T keys fits the scores")
TOKEN_REVERSED = "the weights are applied in reverse order: alpha_ij multiplies v_j"
TOKEN_UNWEIGHTED = "the value rows are added up without their weights"
TOKEN_LAST_ROWS = "the last i+1 rows of values are used; use the first i+1 (v_0 ... v_i)"
TOKEN_DTYPE = ("nested lists of ints become an int64 tensor: convert both arguments to a floating dtype "
               "(torch.as_tensor(values, dtype=torch.float32), or .float()) before multiplying")
ONLY_NEW = "only the new token is attended to: its query must be compared with every key in the cache"
NOT_APPENDED = "the new token's key and value are not in the cache when it is attended to: append them first"
MASK_ROW = ("the newest key is masked out: after appending, the new token is at position len(cache) - 1 and sees "
            "every cached key (a mask row from one position earlier hides its own key)")
QUERIES_CACHED = "the queries are cached instead of the keys"
CACHE_UNUSED = ("the cache is not used: decode_step must attend to the keys and values already in the cache, "
                "not recompute them")
CACHE_DIM0 = "the keys are stacked on dimension 0; a batched (B, d) key must grow the cache to (B, t, d): use dim=-2"


# ---------------------------------------------------------------------------------------------
# Builders: {description: what that mistake returns} for the given inputs
# ---------------------------------------------------------------------------------------------


def f64(*tensors: torch.Tensor) -> list[torch.Tensor]:
    return [torch.as_tensor(t).detach().to(torch.float64) for t in tensors]


def sorted_vocab(words: Sequence[str]) -> dict[str, int]:
    return {w: i for i, w in enumerate(sorted(set(words)))}


def vocab_mistakes(text: str) -> dict[str, dict[str, int]]:
    """What ``build_vocab(text)`` returns under each common mistake."""
    split = text.split()
    right = sorted_vocab(split)
    return {
        LOWERCASED: sorted_vocab(text.lower().split()),
        APPEARANCE_ORDER: {w: i for i, w in enumerate(dict.fromkeys(split))},
        SPLIT_ON_SPACE: sorted_vocab(text.split(" ")),
        IDS_FROM_ONE: {w: i + 1 for w, i in right.items()},
        CASE_INSENSITIVE_SORT: {w: i for i, w in enumerate(sorted(set(split), key=str.lower))},
    }


def encode_mistakes(text: str) -> dict[str, torch.Tensor]:
    vocab = sorted_vocab(text.split())
    return {VOCAB_REBUILT: torch.tensor([vocab[w] for w in text.split()], dtype=torch.int64)}


def seeded_draws(seed: int, shapes: Mapping[str, tuple[int, ...]], order: Sequence[str], normal: bool = False
                 ) -> dict[str, torch.Tensor]:
    """What ``torch.manual_seed(seed)``, then one ``torch.rand`` (``randn``) per name in ``order``, draws."""
    generator = torch.Generator().manual_seed(seed)
    draw = torch.randn if normal else torch.rand
    return {name: draw(shapes[name], generator=generator) for name in order}


def embed_mistakes(ids: Sequence[int] | torch.Tensor, vocab_size: int, dim: int) -> dict[str, torch.Tensor]:
    rows = torch.as_tensor(ids).long()
    default = torch.randn(vocab_size, dim, generator=torch.Generator().manual_seed(123))
    return {SEED_IGNORED: default[rows]}


def draw_mistakes(seed: int, shapes: Mapping[str, tuple[int, ...]]) -> dict[str, dict[str, torch.Tensor]]:
    """Per wrong draw: ``{description: {name: matrix}}`` (other orders, ``torch.randn``)."""
    names = tuple(shapes)
    found: dict[str, dict[str, torch.Tensor]] = {}
    if len(names) <= 3:
        for order in itertools.permutations(names):
            if order != names:
                found[f"{WRONG_ORDER}; these were drawn in the order {', '.join(order)}"] = seeded_draws(
                    seed, shapes, order)
    found[RANDN] = seeded_draws(seed, shapes, names, normal=True)
    return found


def returned_order_mistakes(results: Sequence[torch.Tensor], index: int, names: Sequence[str], label: str
                            ) -> dict[str, torch.Tensor]:
    """``project_qkv`` returning its three results in another order: result ``index`` is another one."""
    return {
        f"the results are returned in the wrong order ({label} is x @ {names[other]}); return "
        "(queries, keys, values) = (x @ W_query, x @ W_key, x @ W_value)": results[other]
        for other in range(len(results)) if other != index
    }


def score_mistakes(queries: torch.Tensor, keys: torch.Tensor) -> dict[str, torch.Tensor]:
    q, k = f64(queries, keys)
    scores = q @ k.mT if q.dim() >= 2 else k @ q
    d_k = q.shape[-1]
    mistakes = {SCORES_SCALED: scores / math.sqrt(d_k), SCORES_DIVIDED: scores / d_k}
    if q.dim() >= 2:
        mistakes[SCORES_TRANSPOSED] = scores.mT
    return mistakes


def blocked_cells(t_q: int, t_k: int, *, diagonal: int = 1, lower: bool = False) -> torch.Tensor:
    ones = torch.ones(t_q, t_k, dtype=torch.bool)
    return torch.tril(ones, diagonal=-diagonal) if lower else torch.triu(ones, diagonal=diagonal)


def weight_mistakes(scores: torch.Tensor, d_k: float, *, causal: bool) -> dict[str, torch.Tensor]:
    """Attention weights the common mistakes produce from ``scores``."""
    (s,) = f64(scores)
    root = math.sqrt(d_k)
    if not causal:
        return {
            WRONG_DIM: torch.softmax(s / root, dim=-2 if s.dim() >= 2 else -1),
            SCALE_DK: torch.softmax(s / d_k, dim=-1),
            NO_SCALE: torch.softmax(s, dim=-1),
            SCALED_AFTER: torch.softmax(s, dim=-1) / root,
        }
    inf = float("-inf")
    t_q, t_k = s.shape[-2], s.shape[-1]
    future = blocked_cells(t_q, t_k)
    plain = torch.softmax(s / root, dim=-1)
    return {
        DIAGONAL_MASKED: torch.softmax((s / root).masked_fill(blocked_cells(t_q, t_k, diagonal=0), inf), dim=-1),
        INVERTED: torch.softmax((s / root).masked_fill(blocked_cells(t_q, t_k, lower=True), inf), dim=-1),
        ZERO_NOT_INF: torch.softmax((s / root).masked_fill(future, 0.0), dim=-1),
        NO_RENORM: plain.masked_fill(future, 0.0),
        NO_MASK: plain,
        WRONG_DIM: torch.softmax((s / root).masked_fill(future, inf), dim=-2),
        SCALE_DK: torch.softmax((s / d_k).masked_fill(future, inf), dim=-1),
        NO_SCALE: torch.softmax(s.masked_fill(future, inf), dim=-1),
        SCALED_AFTER: torch.softmax(s.masked_fill(future, inf), dim=-1) / root,
        MASK_ADDED: torch.softmax((s + future) / root, dim=-1),
        f"{MASK_ADDED} (after the scaling)": torch.softmax(s / root + future, dim=-1),
        MASKED_AFTER: plain.masked_fill(future, inf),
    }


def output_mistakes(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, *, causal: bool = False,
                    swapped: bool = True, d_in: int | None = None) -> dict[str, torch.Tensor]:
    """Attention outputs the common mistakes produce (``d_in``, the tokens' width: scaled by sqrt(d_in) too)."""
    q, k, v = f64(queries, keys, values)
    d_k, d_v = q.shape[-1], v.shape[-1]
    scores = q @ k.mT
    result = {name: weights @ v for name, weights in weight_mistakes(scores, d_k, causal=causal).items()}
    dv_scaled = scores / math.sqrt(d_v)
    if causal:
        dv_scaled = dv_scaled.masked_fill(blocked_cells(*scores.shape[-2:]), float("-inf"))
    result[SCALE_DV] = torch.softmax(dv_scaled, dim=-1) @ v
    if d_in is not None and d_in != d_k:
        result[SCALE_DIN] = torch.softmax(dv_scaled * math.sqrt(d_v / d_in), dim=-1) @ v
    if swapped and q.shape[-2] == k.shape[-2]:
        swapped_scores = k @ q.mT
        if causal:
            swapped_scores = swapped_scores.masked_fill(blocked_cells(*swapped_scores.shape[-2:]), float("-inf"))
        result[QK_SWAPPED] = torch.softmax(swapped_scores / math.sqrt(d_k), dim=-1) @ v
        if not causal:
            result[WEIGHTS_TRANSPOSED] = torch.softmax(scores / math.sqrt(d_k), dim=-1).mT @ v
    return result


def attend(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, *, causal: bool = False) -> torch.Tensor:
    """Scaled dot-product attention in float64 (the checks' own formula)."""
    q, k, v = f64(queries, keys, values)
    scores = q @ k.mT / math.sqrt(q.shape[-1])
    if causal:
        scores = scores.masked_fill(blocked_cells(*scores.shape[-2:]), float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    # (..., T, heads * d) -> (..., T, heads, d) -> (..., heads, T, d)
    return x.unflatten(-1, (heads, x.shape[-1] // heads)).transpose(-3, -2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    # (..., heads, T, d) -> (..., T, heads, d) -> (..., T, heads * d)
    return x.transpose(-3, -2).flatten(-2)


def multi_head(x: torch.Tensor, w_query: torch.Tensor, w_key: torch.Tensor, w_value: torch.Tensor, heads: int
               ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Multi-head attention with wide matrices (head h in column block h), and the common mistakes' outputs."""
    (x, w_query, w_key, w_value) = f64(x, w_query, w_key, w_value)
    wide_q, wide_k, wide_v = x @ w_query, x @ w_key, x @ w_value
    q, k, v = split_heads(wide_q, heads), split_heads(wide_k, heads), split_heads(wide_v, heads)
    expected = merge_heads(attend(q, k, v))
    length = x.shape[-2]

    def raw(t: torch.Tensor) -> torch.Tensor:  # (..., T, heads * d) -> (..., heads, T, d) by reshape only
        return t.reshape(*t.shape[:-2], heads, length, t.shape[-1] // heads)

    scrambled = attend(raw(wide_q), raw(wide_k), raw(wide_v))
    mistakes = {
        SPLIT_SCRAMBLED: merge_heads(scrambled),
        f"{SPLIT_SCRAMBLED}; the merge has the same problem": scrambled.reshape(*x.shape[:-1], -1),
        MERGE_SCRAMBLED: attend(q, k, v).reshape(*x.shape[:-1], -1),
        WIDE_SCALE: merge_heads(torch.softmax(q @ k.mT / math.sqrt(wide_q.shape[-1]), dim=-1) @ v),
    }
    mistakes.update({name: merge_heads(out) for name, out in output_mistakes(q, k, v, swapped=False).items()})
    return expected, mistakes


def cross_mistakes(x_1: torch.Tensor, x_2: torch.Tensor, w_query: torch.Tensor, w_key: torch.Tensor,
                   w_value: torch.Tensor) -> dict[str, torch.Tensor]:
    a, b, w_q, w_k, w_v = f64(x_1, x_2, w_query, w_key, w_value)
    mistakes = {
        SWAPPED_INPUTS: attend(b @ w_q, a @ w_k, a @ w_v),
        QUERIES_FROM_X2: attend(b @ w_q, b @ w_k, b @ w_v),
        KV_FROM_X1: attend(a @ w_q, a @ w_k, a @ w_v),
    }
    if a.shape == b.shape:
        mistakes[KEYS_FROM_X1] = attend(a @ w_q, a @ w_k, b @ w_v)
        mistakes[VALUES_FROM_X1] = attend(a @ w_q, b @ w_k, a @ w_v)
    mistakes.update(output_mistakes(a @ w_q, b @ w_k, b @ w_v, swapped=False))
    return mistakes


def pair_mistakes(n: int) -> dict[str, list[tuple[int, int]]]:
    return {
        PAIRS_REVERSED: [(j, i) for i in range(n) for j in range(i + 1)],
        PAIRS_NO_DIAGONAL: [(i, j) for i in range(n) for j in range(i)],
        PAIRS_BY_KEY: [(i, j) for j in range(n) for i in range(j, n)],
        PAIRS_ALL: [(i, j) for i in range(n) for j in range(n)],
        PAIRS_FUTURE: [(i, j) for i in range(n) for j in range(i, n)],
    }


def count_mistakes(n: int) -> dict[str, int]:
    return {COUNT_NO_DIAGONAL: n * (n - 1) // 2, COUNT_ALL: n * n}


def keys_attended_mistakes(position: int) -> dict[str, int]:
    return {OWN_KEY_NOT_COUNTED: position}


def tril_mistakes(n: int) -> dict[str, torch.Tensor]:
    ones = torch.ones(n, n)
    return {TRIL_NO_DIAGONAL: torch.tril(ones, -1), TRIL_INVERTED: torch.triu(ones, 1), TRIL_UPPER: torch.triu(ones)}


def bool_mask_mistakes(n: int) -> dict[str, torch.Tensor]:
    ones = torch.ones(n, n)
    return {BOOL_DIAGONAL: torch.triu(ones).bool(), BOOL_INVERTED: torch.tril(ones).bool(),
            BOOL_BELOW: torch.tril(ones, -1).bool()}


def renormalize_mistakes(weights: torch.Tensor) -> dict[str, torch.Tensor]:
    (w,) = f64(weights)
    lower = torch.tril(w)
    return {
        NO_RENORM: lower,
        DIAGONAL_MASKED: torch.tril(w, -1) / torch.tril(w, -1).sum(-1, keepdim=True),
        INVERTED: torch.triu(w) / torch.triu(w).sum(-1, keepdim=True),
        COLUMNS_RENORMALIZED: lower / lower.sum(-2, keepdim=True),
    }


def mask_score_mistakes(scores: torch.Tensor) -> dict[str, torch.Tensor]:
    (s,) = f64(scores)
    lowest = torch.finfo(scores.dtype).min if scores.is_floating_point() else -math.inf
    length = s.shape[-1]
    ones = torch.ones(length, length, dtype=torch.bool)
    return {
        ZERO_NOT_INF: s.masked_fill(torch.triu(ones, 1), 0.0),
        DIAGONAL_MASKED: s.masked_fill(torch.triu(ones), float("-inf")),
        INVERTED: s.masked_fill(torch.tril(ones, -1), float("-inf")),
        PLUS_INF: s.masked_fill(torch.triu(ones, 1), float("inf")),
        MASK_ADDED: s + torch.triu(ones, 1),
        FINFO_FILL: s.masked_fill(torch.triu(ones, 1), lowest),
    }


def is_causal_cases(rng: torch.Generator, length: int) -> list[tuple[torch.Tensor, bool, str, str]]:
    """``(matrix, expected, description, what a wrong answer suggests)`` for ``is_causal``, drawn from ``rng``."""
    neg_inf = float("-inf")
    lower = torch.tril(torch.randn(length, length, generator=rng)) + torch.eye(length)  # nonzero diagonal
    above = torch.triu(torch.ones(length, length, dtype=torch.bool), 1)
    nonzero_above = lower.clone()
    row = int(torch.randint(0, length - 1, (1,), generator=rng))
    nonzero_above[row, int(torch.randint(row + 1, length, (1,), generator=rng))] = 1e-3
    batch = torch.tril(torch.randn(3, length, length, generator=rng))
    batch[-1, 0, length - 1] = 0.5
    causal_batch = torch.softmax(torch.randn(2, 3, length, length, generator=rng).masked_fill(above, neg_inf), -1)
    return [
        (lower, True, "a lower-triangular matrix with a nonzero diagonal",
         "the diagonal is not above the diagonal: only entries with j > i must be 0 or -inf"),
        (torch.randn(length, length, generator=rng).masked_fill(above, neg_inf), True,
         "scores masked with -inf above the diagonal", "-inf above the diagonal counts as masked, just like 0"),
        (causal_batch, True, "a (2, 3, n, n) batch of causal weights", "every matrix of a batch counts"),
        (torch.zeros(1, 1), True, "a 1 x 1 matrix", "a 1 x 1 matrix has nothing above its diagonal"),
        (lower.masked_fill(torch.tril(torch.ones(length, length, dtype=torch.bool), -1), neg_inf), True,
         "a matrix with -inf below the diagonal", "only the entries above the diagonal matter"),
        (nonzero_above, False, "a matrix with one small nonzero entry above the diagonal",
         "any entry above the diagonal other than 0 or -inf makes it False (compare exactly, not with a tolerance)"),
        (batch, False, "a batch whose last matrix has a nonzero entry above the diagonal",
         "check every matrix of the batch, not only the first"),
        (lower.T.contiguous(), False, "an upper-triangular matrix",
         "the polarity is inverted: the entries above the diagonal (j > i) must be masked"),
        (lower.masked_fill(above, float("inf")), False, "a matrix with +inf above the diagonal",
         "only -inf counts as masked, +inf does not"),
        (lower.masked_fill(above, float("nan")), False, "a matrix with NaN above the diagonal",
         "NaN is neither 0 nor -inf, so it makes the matrix not causal"),
    ]


def token_output_mistakes(weights_row: torch.Tensor, values: torch.Tensor) -> dict[str, torch.Tensor]:
    w, v = f64(weights_row, values)
    count = w.shape[-1]
    used = v[..., :count, :]
    return {
        TOKEN_REVERSED: (w.flip(-1).unsqueeze(-2) @ used).squeeze(-2),
        TOKEN_UNWEIGHTED: used.sum(-2),
        TOKEN_LAST_ROWS: (w.unsqueeze(-2) @ v[..., -count:, :]).squeeze(-2),
    }


def dtype_note(error_message: str) -> str | None:
    """The dtype hint for an error torch raises when ints meet floats in a product (token_output on lists)."""
    text = error_message.lower()
    if "dtype" in text or "scalar type" in text or "m1 and m2" in text:
        return TOKEN_DTYPE
    return None


def decode_row_mistakes(query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
                        ) -> dict[str, torch.Tensor | None]:
    """What the common mistakes give for one query row against ``keys``/``values`` (the new token last)."""
    q, k, v = f64(query, keys, values)
    d_k = q.shape[-1]
    scores = (q.unsqueeze(-2) @ k.mT).squeeze(-2)
    earlier = attend(q.unsqueeze(-2), k[..., :-1, :], v[..., :-1, :]).squeeze(-2) if k.shape[-2] > 1 else None
    return {
        ONLY_NEW: v[..., -1, :],
        NOT_APPENDED: earlier,
        MASK_ROW: earlier,  # the same numbers as NOT_APPENDED, always: both are listed, never one guessed
        SCALE_DK: (torch.softmax(scores / d_k, dim=-1).unsqueeze(-2) @ v).squeeze(-2),
        NO_SCALE: (torch.softmax(scores, dim=-1).unsqueeze(-2) @ v).squeeze(-2),
    }


# ---------------------------------------------------------------------------------------------
# Recognition (used by `selfcheck.compare`)
# ---------------------------------------------------------------------------------------------


def same_values(actual: Any, produced: Any, rtol: float, atol: float) -> bool:
    """Equal within tolerance; NaN matches NaN (a NaN-producing mistake can be recognised); plain data by ==."""
    if isinstance(produced, torch.Tensor) or isinstance(actual, torch.Tensor):
        if not (isinstance(actual, torch.Tensor) and isinstance(produced, torch.Tensor)):
            return False
        if tuple(actual.shape) != tuple(produced.shape):
            return False
        a = actual.detach().to(torch.float64)
        p = produced.detach().to(torch.float64)
        return bool(torch.isclose(a, p, rtol=rtol, atol=atol, equal_nan=True).all())
    return type(actual) is type(produced) and actual == produced


def recognise(actual: Any, mistakes: Mapping[str, Any] | None, expected: Any = None, *,
              rtol: float = 1e-4, atol: float = 1e-5) -> list[str]:
    """Every mistake whose result ``actual`` equals, leaving out those the right result equals too."""
    if not mistakes:
        return []
    found: list[str] = []
    for description, produced in mistakes.items():
        if produced is None or description in found:
            continue
        try:
            if expected is not None and same_values(expected, produced, rtol, atol):
                continue  # indistinguishable from the right answer on these inputs
            if same_values(actual, produced, rtol, atol):
                found.append(description)
        except RuntimeError:
            continue
    return found


def mistake_note(found: Sequence[str] | str | None) -> str:
    """The line a message gets for the recognised mistakes: one named, several listed as candidates."""
    if not found:
        return ""
    if isinstance(found, str):
        found = [found]
    if len(found) == 1:
        return f"\n  {MISTAKE_PREFIX}: {name_mistake(found[0])}."
    listed = "".join(f"\n    - {description}" for description in found)
    return f"\n  {AMBIGUOUS_PREFIX}, so it cannot tell which one this is; look for each:{listed}"


def with_mistake(message: str, found: Sequence[str] | str | None) -> str:
    return message + mistake_note(found)
