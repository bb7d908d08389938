"""Reference for step 3, query, key and value projections: the grader's oracle, and the stand-in later steps get."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..shared import rand_parameters as _rand_parameters


def init_projections(
    d_in: int, d_out_kq: int, d_out_v: int, seed: int | None = None
) -> tuple[nn.Parameter, nn.Parameter, nn.Parameter]:
    """``(W_query, W_key, W_value)`` from ``torch.rand``, after ``torch.manual_seed(seed)`` if given."""
    if seed is not None:
        torch.random.default_generator.manual_seed(int(seed))  # = torch.manual_seed on CPU, without its overhead
    w_query, w_key, w_value = _rand_parameters((d_in, d_out_kq), (d_in, d_out_kq), (d_in, d_out_v))
    return w_query, w_key, w_value


def project_qkv(
    x: torch.Tensor, W_query: torch.Tensor, W_key: torch.Tensor, W_value: torch.Tensor  # noqa: N803 - SPEC names
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x @ W_query, x @ W_key, x @ W_value)``."""
    return F.linear(x, W_query.T), F.linear(x, W_key.T), F.linear(x, W_value.T)
