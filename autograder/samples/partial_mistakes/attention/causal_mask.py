# Sample submission `partial_mistakes`, step 11. tril_mask, mask_and_renormalize and is_causal are
# right. PLANTED MISTAKES: causal_mask(n) blocks the diagonal too (torch.triu without diagonal=1),
# and mask_scores multiplies the scores by tril_mask, i.e. masks with 0 instead of -inf, so the
# blocked keys still get weight in causal_attention_weights. The grader names both.
"""Step 11: causal masks."""

import torch


def _square(t):
    if t.dim() < 2 or t.shape[-1] != t.shape[-2]:
        raise ValueError(f"expected square (..., T, T), got {tuple(t.shape)}")
    return t.shape[-1]


def tril_mask(n):
    return torch.tril(torch.ones(n, n))


def mask_and_renormalize(weights):
    masked = weights * tril_mask(_square(weights))
    return masked / masked.sum(dim=-1, keepdim=True)


def causal_mask(n):
    return torch.triu(torch.ones(n, n, dtype=torch.bool))  # also blocks the diagonal: needs diagonal=1


def mask_scores(scores):
    return scores * tril_mask(_square(scores))  # zeros above the diagonal, not -inf


def causal_attention_weights(scores, d_k):
    return torch.softmax(mask_scores(scores) / d_k**0.5, dim=-1)


def is_causal(matrix):
    _square(matrix)
    above = matrix[..., torch.triu(torch.ones(matrix.shape[-2:], dtype=torch.bool), diagonal=1)]
    return bool(((above == 0) | (above == float("-inf"))).all())
