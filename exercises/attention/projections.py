"""Step 3: query, key and value projections.

Self-attention gives every token three roles, each with its own trainable weight matrix:

- a **query** ``q = x @ W_query`` (what this token is looking for),
- a **key** ``k = x @ W_key`` (what it offers to be matched against),
- a **value** ``v = x @ W_value`` (what it contributes once matched).

Queries and keys are compared by dot products, so they share a size ``d_q = d_k``; values may
have another size ``d_v``. The article uses ``d_in = 3``, ``d_q = d_k = 2`` and ``d_v = 4``
and draws the three matrices with ``torch.rand`` in the order W_query, W_key, W_value (the
order matters: it decides which random numbers each matrix gets).
"""

import torch
from torch import nn


def init_projections(
    d_in: int, d_out_kq: int, d_out_v: int, seed: int | None = None
) -> tuple[nn.Parameter, nn.Parameter, nn.Parameter]:
    """Draw the three projection matrices ``(W_query, W_key, W_value)`` as ``nn.Parameter``s.

    Shapes: ``W_query`` and ``W_key`` are ``(d_in, d_out_kq)``, ``W_value`` is ``(d_in, d_out_v)``.
    Each is drawn with ``torch.rand``, in the order W_query, W_key, W_value, after
    ``torch.manual_seed(seed)`` when ``seed`` is not None.

    Hint: ``nn.Parameter(tensor)`` marks a tensor as trainable (``requires_grad`` is True).
    """
    raise NotImplementedError("projections: init_projections is not implemented yet")


def project_qkv(
    x: torch.Tensor, W_query: torch.Tensor, W_key: torch.Tensor, W_value: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Project the inputs ``x`` to ``(queries, keys, values)``.

    Shapes: ``x`` is ``(..., T, d_in)`` (one token ``(d_in,)`` works too); the results are
    ``(..., T, d_out_kq)``, ``(..., T, d_out_kq)`` and ``(..., T, d_out_v)``.

    Hint: the ``@`` operator multiplies the last dimension of ``x`` with the matrix and keeps
    any leading (batch) dimensions.
    """
    raise NotImplementedError("projections: project_qkv is not implemented yet")
