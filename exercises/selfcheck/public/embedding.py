"""Public checks of step 2, ``embedding`` (attention/embedding.py): Token ids to embeddings."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import mistakes as m
from ..compare import (
    expect_close,
    expect_inputs_unchanged,
    expect_tensor,
)
from ..errors import CheckFailed
from ..registry import CheckFunction
from ..subject import Subject
from .common import (
    EMBEDDING_ROW_0,
    FOUR_DECIMALS,
    TOKEN_IDS,
    T,
    embedding_rows,
    example_x,
    public_check,
    published,
)

STEP = "embedding"


def check(title: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a public check of this step."""
    return public_check(STEP, title)


@check("embed of the example ids has shape (6, 3) and row 0 [0.3374, -0.1778, -0.3035]")
def first_row_of_the_example(subject: Subject, rng: torch.Generator) -> None:
    ids = torch.tensor(TOKEN_IDS)
    x = subject.embed(ids)
    what = "embed(tensor([0, 4, 3, 2, 5, 1]))"
    expect_tensor(x, what, shape=(T, 3), dtype=torch.float32)
    expect_inputs_unchanged(subject, "embed")
    expect_close(x[0], published(EMBEDDING_ROW_0), f"row 0 of {what}", reveal=True, **FOUR_DECIMALS)


@check("embed returns the rows of nn.Embedding(50000, 3) created after torch.manual_seed(123)")
def rows_follow_the_seed(subject: Subject, rng: torch.Generator) -> None:
    x = subject.embed(torch.tensor(TOKEN_IDS))
    what = "embed(tensor([0, 4, 3, 2, 5, 1]))"
    expect_tensor(x, what, shape=(T, 3), dtype=torch.float32)
    expect_close(x, example_x(), what, reveal=True)


@check("embed takes a list of ids and honours vocab_size, dim and seed")
def list_ids_and_other_sizes(subject: Subject, rng: torch.Generator) -> None:
    x = subject.embed([2, 0, 2], vocab_size=10, dim=5, seed=0)
    what = "embed([2, 0, 2], vocab_size=10, dim=5, seed=0)"
    expect_tensor(x, what, shape=(3, 5), dtype=torch.float32)
    expect_close(x, embedding_rows([2, 0, 2], vocab_size=10, dim=5, seed=0), what, reveal=True,
                 mistakes=m.embed_mistakes([2, 0, 2], vocab_size=10, dim=5))


@check("embed's result is detached (no gradient) and the ids are left unchanged")
def detached_result(subject: Subject, rng: torch.Generator) -> None:
    x = subject.embed(torch.tensor(TOKEN_IDS))
    expect_inputs_unchanged(subject, "embed")
    expect_tensor(x, "embed(...)", dtype=torch.float32)
    if x.requires_grad:
        raise CheckFailed("embed(...) requires grad: return the rows detached (.detach()), as plain data")
