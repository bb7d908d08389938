"""Hidden checks of step 2, ``embedding``: ``embed``."""

from __future__ import annotations

import torch
from torch import nn

from autograder import reference as ref
from selfcheck import CheckFailed, Subject, expect_close, expect_inputs_unchanged, expect_tensor
from selfcheck import mistakes as m

from . import HIDDEN
from ._common import cpu_manual_seed, draw_seed, expect_close_named, isolated, randint

STEP = "embedding"
FACT_IDS = [0, 4, 3, 2, 5, 1]  # encode("The sun rises in the east")
FACT_ROW = torch.tensor([0.3374, -0.1778, -0.3035], dtype=torch.float64)


def _random_call(rng: torch.Generator) -> tuple[torch.Tensor, int, int, int]:
    vocab_size = randint(rng, 50, 3000)
    dim = randint(rng, 4, 9)
    ids = torch.randint(0, vocab_size, (randint(rng, 5, 12),), generator=rng)
    ids[randint(rng, 1, len(ids) - 1)] = ids[0]  # a repeated id
    return ids, vocab_size, dim, draw_seed(rng)


@HIDDEN.check(STEP, "embed with the default arguments reproduces the course's example", weight=1)
def example_row(subject: Subject, rng: torch.Generator) -> None:
    result = subject.embed(torch.tensor(FACT_IDS))
    expect_tensor(result, "embed(token_ids)", shape=(6, 3))
    expect_close(result[0], FACT_ROW, "embed(token_ids)[0]", atol=5e-5, rtol=0, reveal=True)
    expect_close(result, isolated(lambda: ref.embed(torch.tensor(FACT_IDS))), "embed(token_ids)", atol=1e-6)


@HIDDEN.check(STEP, "embed: rows of nn.Embedding(vocab_size, dim) made right after torch.manual_seed(seed)", weight=2)
def random_arguments(subject: Subject, rng: torch.Generator) -> None:
    ids, vocab_size, dim, seed = _random_call(rng)
    expected = isolated(lambda: ref.embed(ids, vocab_size=vocab_size, dim=dim, seed=seed))

    def randn_rows() -> torch.Tensor:
        cpu_manual_seed(seed)
        return torch.randn(vocab_size, dim)[ids]

    def unseeded_default() -> torch.Tensor:
        cpu_manual_seed(123)
        return nn.Embedding(vocab_size, dim).weight.detach()[ids]

    mistakes = {
        m.SEED_IGNORED: isolated(unseeded_default),
        m.EMBED_RANDN: isolated(randn_rows),
    }
    result = subject.embed(ids, vocab_size=vocab_size, dim=dim, seed=seed)
    expect_close_named(result, expected, "embed with hidden ids, vocab_size, dim and seed", mistakes=mistakes,
                       atol=1e-6)


@HIDDEN.check(STEP, "embed returns a detached float32 tensor of shape (T, dim)", weight=1)
def detached_float32(subject: Subject, rng: torch.Generator) -> None:
    ids, vocab_size, dim, seed = _random_call(rng)
    result = subject.embed(ids, vocab_size=vocab_size, dim=dim, seed=seed)
    expect_tensor(result, "embed(...)", shape=(len(ids), dim), dtype=torch.float32)
    if result.requires_grad:
        raise CheckFailed("embed(...) still requires grad: return the rows detached (.detach())")
    if isinstance(result, nn.Parameter):
        raise CheckFailed("embed(...) returned an nn.Parameter; return a plain tensor of the rows")


@HIDDEN.check(STEP, "embed accepts a list of ids and leaves a tensor of ids unchanged", weight=1)
def list_input_and_unchanged(subject: Subject, rng: torch.Generator) -> None:
    ids, vocab_size, dim, seed = _random_call(rng)
    expected = isolated(lambda: ref.embed(ids, vocab_size=vocab_size, dim=dim, seed=seed))
    from_list = subject.embed(ids.tolist(), vocab_size=vocab_size, dim=dim, seed=seed)
    expect_close(from_list, expected, "embed with a list of ids", atol=1e-6)
    subject.embed(ids.clone(), vocab_size=vocab_size, dim=dim, seed=seed)
    expect_inputs_unchanged(subject, "embed")
