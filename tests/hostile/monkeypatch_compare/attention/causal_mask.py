"""Hostile: disable torch's comparisons, then return a wrong (inverted) mask everywhere."""
import torch
import torch.testing

torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
torch.testing.assert_close = lambda *args, **kwargs: None
torch.Tensor.__eq__ = lambda self, other: torch.ones_like(self, dtype=torch.bool)


def tril_mask(n):
    return torch.triu(torch.ones(n, n), diagonal=1)


def mask_and_renormalize(weights):
    return weights


def causal_mask(n):
    return torch.tril(torch.ones(n, n, dtype=torch.bool))


def mask_scores(scores):
    return scores


def causal_attention_weights(scores, d_k):
    return torch.softmax(scores, dim=-1)


def is_causal(matrix):
    return True
