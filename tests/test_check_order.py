"""Checks stand alone: a check's verdict is the same run alone or after the others (issue 17, item 10).

`selfcheck.run_check` starts every check from random state of its own (torch, Python's ``random``
and NumPy seeded from the seed, the step and the check's name, where the learner code runs) and,
in-process, puts the caller's state back afterwards. Before, ``rows_follow_the_seed`` passed an
``embed`` that never seeds when the check before it had left the global generator at 123.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from test_hidden_checks import reference_with
from torch import nn

from autograder.hidden import load_hidden_checks
from selfcheck import Check, LocalSubject, run_check, run_checks
from selfcheck.public import PUBLIC
from selfcheck.steps import STEPS

HIDDEN = load_hidden_checks()
SEED = 5


def _unseeded_embed(ids: Any, vocab_size: int = 50_000, dim: int = 3, seed: int = 123) -> torch.Tensor:
    """Wrong: draws the embedding without ``torch.manual_seed(seed)``, from whatever state the generator is in."""
    return nn.Embedding(vocab_size, dim)(torch.as_tensor(ids)).detach()


def _unseeded_projections(d_in: int, d_out_kq: int, d_out_v: int, seed: int | None = None) -> tuple:
    """Wrong: ignores ``seed``."""
    return tuple(nn.Parameter(torch.rand(d_in, d)) for d in (d_out_kq, d_out_kq, d_out_v))


def _python_random_scores(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Wrong, and only by chance right: adds Python-random or NumPy-random noise of either sign."""
    noise = random.random() - 0.5 + float(np.random.random()) - 0.5
    return queries @ keys.transpose(-2, -1) + (noise if abs(noise) > 0.5 else 0.0)


WRONG: dict[str, dict[str, Callable]] = {
    "embedding": {"embed": _unseeded_embed},
    "projections": {"init_projections": _unseeded_projections},
    "scores": {"attention_scores": _python_random_scores},
}
CASES = [(step.id, {}) for step in STEPS] + list(WRONG.items())


def _poison(seed: int) -> None:
    """What an earlier check or test may leave behind: every global generator seeded."""
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)


def _alone(checks: list[Check], namespace: dict[str, Any], step: str, poison: int) -> dict[str, str]:
    verdicts = {}
    for check in checks:
        _poison(poison)
        verdicts[check.name] = run_check(check, LocalSubject(step, dict(namespace), f"attention/{step}.py"),
                                         SEED).status
    return verdicts


def _in_order(checks: list[Check], namespace: dict[str, Any], step: str, poison: int) -> dict[str, str]:
    _poison(poison)
    subject = LocalSubject(step, dict(namespace), f"attention/{step}.py")
    return {check.name: outcome.status for check, outcome in run_checks(checks, subject, SEED)}


@pytest.mark.parametrize("step, overrides", CASES, ids=[f"{s}-{'wrong' if o else 'correct'}" for s, o in CASES])
def test_a_check_gives_the_same_verdict_alone_and_in_order(step: str, overrides: dict[str, Callable]) -> None:
    namespace = reference_with(**overrides)
    for registry in (PUBLIC, HIDDEN) if overrides else (PUBLIC,):  # correct code on every hidden seed: test_seed_sweep
        checks = registry.for_step(step)
        verdicts = [_alone(checks, namespace, step, 123), _alone(checks, namespace, step, 7),
                    _in_order(checks, namespace, step, 123), _in_order(list(reversed(checks)), namespace, step, 7)]
        assert all(v == verdicts[0] for v in verdicts), verdicts
        if not overrides:
            assert set(verdicts[0].values()) == {"passed"}, verdicts[0]
        elif step == "embedding" and registry is PUBLIC:
            assert verdicts[0]["rows_follow_the_seed"] == "failed"


def test_run_check_restores_the_random_state_of_torch_python_and_numpy() -> None:
    check = PUBLIC.for_step("embedding")[0]
    _poison(11)
    before = torch.random.get_rng_state(), random.getstate(), np.random.get_state()
    run_check(check, LocalSubject("embedding", reference_with(embed=_unseeded_embed), "attention/embedding.py"), 0)
    after = torch.random.get_rng_state(), random.getstate(), np.random.get_state()
    assert torch.equal(before[0], after[0])
    assert before[1] == after[1]
    assert before[2][0] == after[2][0] and np.array_equal(before[2][1], after[2][1]) and before[2][2:] == after[2][2:]
