# Sample submission `broken`: this module is correct (a copy of complete_einsum/attention/causal_mask.py below
# this header) and gets full marks, although other modules of this submission are broken.
"""Step 11: causal masks."""

import math
import numbers
import operator

import torch


def _size(n):
    if isinstance(n, bool):
        raise ValueError("n must be an integer, not a bool")
    try:
        n = operator.index(n)
    except TypeError:
        raise ValueError(f"n must be an integer, got {n!r}") from None
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    return n


def _square(t, name):
    if t.dim() < 2 or t.shape[-1] != t.shape[-2]:
        raise ValueError(f"{name} must be square (..., T, T), got {tuple(t.shape)}")
    return t.shape[-1]


def tril_mask(n):
    n = _size(n)
    mask = torch.zeros(n, n, dtype=torch.float32)
    for i in range(n):
        mask[i, : i + 1] = 1.0  # query i keeps keys 0..i
    return mask


def mask_and_renormalize(weights):
    T = _square(weights, "weights")
    out_dtype = weights.dtype if weights.is_floating_point() else torch.get_default_dtype()
    kept = weights.to(torch.float64) * tril_mask(T).to(torch.float64)
    return (kept / kept.sum(dim=-1, keepdim=True)).to(out_dtype)


def causal_mask(n):
    n = _size(n)
    rows = torch.arange(n).unsqueeze(1)  # query positions i
    cols = torch.arange(n).unsqueeze(0)  # key positions j
    return cols > rows  # blocked where the key comes after the query


def mask_scores(scores):
    T = _square(scores, "scores")
    if not scores.is_floating_point():
        scores = scores.to(torch.get_default_dtype())
    minus_inf = torch.tensor(float("-inf"), dtype=scores.dtype)
    return torch.where(causal_mask(T), minus_inf, scores)


def causal_attention_weights(scores, d_k):
    if isinstance(d_k, bool) or not isinstance(d_k, numbers.Real) or not d_k > 0:
        raise ValueError(f"d_k must be a positive number, not {d_k!r}")
    masked = mask_scores(scores)
    scaled = masked.to(torch.float64) / math.sqrt(d_k)
    exps = torch.exp(scaled - scaled.amax(dim=-1, keepdim=True))  # exp(-inf) = 0 for blocked keys
    return (exps / exps.sum(dim=-1, keepdim=True)).to(masked.dtype)


def is_causal(matrix):
    matrix = torch.as_tensor(matrix)
    T = _square(matrix, "matrix")
    above = matrix[..., causal_mask(T)]
    if matrix.dtype == torch.bool:
        return not bool(above.any())
    return bool(((above == 0) | (above == float("-inf"))).all())
