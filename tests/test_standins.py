"""Helpers shared between step modules: earlier steps are stand-ins for their API, not for the rest.

Each case is a copy of solutions/attention rewritten the way learners (and textbooks) share code:
a helper defined in an earlier step's module and imported by later steps in every import style,
helper modules that are not steps (``utils.py``, ``_helpers.py``), and an ``__init__.py`` that
re-exports. Graded in the real sandbox; a correct submission scores 100, a wrong API in an
earlier step costs only that step, and an earlier module that cannot be imported is named.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from autograder import REPO_ROOT
from autograder.course import load_course
from autograder.grading.engine import Grader, SubmissionResult
from autograder.grading.intake import Submission
from autograder.hidden import load_hidden_checks
from autograder.hidden.questions import questions_of
from autograder.sandbox.remote import Zygote

COURSE = load_course()
POINTS = {step.id: step.points for step in COURSE.steps}
SOLUTIONS = REPO_ROOT / "solutions" / "attention"

UTILS = '''"""Helpers shared by several steps (not a step)."""
import torch


def softmax_rows(scores):
    return torch.softmax(scores, dim=-1)


def scaled(scores, d_k):
    return scores / d_k**0.5
'''
PRIVATE_HELPERS = '''"""Private helpers (not a step)."""
from .utils import scaled, softmax_rows


def attend(queries, keys, values):
    """softmax(q kᵀ / sqrt(d_k)) v over the last two dimensions."""
    return softmax_rows(scaled(queries @ keys.transpose(-2, -1), keys.shape[-1])) @ values
'''
INIT = '''"""The learner's package: re-exports a helper."""
from .utils import softmax_rows as softmax_last  # noqa: F401
from .self_attention import scaled_dot_attention  # noqa: F401
'''
SELF_ATTENTION_HELPERS = '''

def scaled_dot_attention(queries, keys, values, blocked=None):
    """The helper later steps import: softmax(q kᵀ / sqrt(d_k)) v, ``blocked`` keys masked."""
    scores = queries @ keys.transpose(-2, -1)
    if blocked is not None:
        scores = scores.masked_fill(blocked, -torch.inf)
    return softmax_rows(scaled(scores, keys.shape[-1])) @ values


def make_head(d_in, d_out_kq, d_out_v):
    """A helper that calls this step's own API."""
    return SelfAttention(d_in, d_out_kq, d_out_v)


class Head(SelfAttention):
    """A helper class built on this step's own API."""


HEAD_SIZES = {"default": 1}
'''


def _edit(text: str, *replacements: tuple[str, str]) -> str:
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def _shared(root: Path, wrong_self_attention: bool = False, broken_self_attention: bool = False) -> None:
    """solutions/, rewritten to share helpers between modules in every import style."""
    package = root / "attention"
    shutil.copytree(SOLUTIONS, package)
    (package / "utils.py").write_text(UTILS)
    (package / "_helpers.py").write_text(PRIVATE_HELPERS)
    (package / "__init__.py").write_text(INIT)

    def rewrite(module: str, *replacements: tuple[str, str]) -> None:
        path = package / f"{module}.py"
        path.write_text(_edit(path.read_text(), *replacements))

    scale = "scores" if wrong_self_attention else "scaled(scores, self.d_out_kq)"
    rewrite("self_attention",
            ("from attention.projections import init_projections",
             "from attention.projections import init_projections\n\nfrom .utils import scaled, softmax_rows"),
            ("weights = torch.softmax(scores / self.d_out_kq**0.5, dim=-1)", f"weights = softmax_rows({scale})"))
    path = package / "self_attention.py"
    path.write_text(path.read_text() + SELF_ATTENTION_HELPERS + ("\ndef broken(:\n" if broken_self_attention else ""))
    rewrite("weights",  # the re-export of __init__.py
            ("import torch\n", "import torch\n\nfrom attention import softmax_last\n"),
            ("return torch.softmax(scores / d_k**0.5, dim=-1)", "return softmax_last(scores / d_k**0.5)"))
    rewrite("multi_head",  # from ... import helper, a helper calling the API, a helper subclass
            ("from attention.self_attention import SelfAttention",
             "from attention.self_attention import HEAD_SIZES, Head, make_head, scaled_dot_attention"),
            ("[SelfAttention(d_in, d_out_kq, d_out_v) for _ in range(num_heads)]",
             "[(Head if h % 2 else make_head)(d_in, d_out_kq, d_out_v)\n"
             "                                    for h in range(num_heads * HEAD_SIZES['default'])]"),
            ("weights = torch.softmax(scores / d_kq**0.5, dim=-1)",
             "weights = torch.softmax(scores / d_kq**0.5, dim=-1)\n"
             "        assert torch.allclose(scaled_dot_attention(queries, keys, values), weights @ values, atol=1e-4)"))
    rewrite("cross_attention",  # import a.b as m
            ("from attention.projections import init_projections",
             "import attention.self_attention as sa\nfrom attention.projections import init_projections"),
            ("weights = torch.softmax(scores / self.d_out_kq**0.5, dim=-1)\n"
             "        return weights @ values_2", "return sa.scaled_dot_attention(queries_1, keys_2, values_2)"))
    rewrite("causal_attention",  # from package import module
            ("from attention.causal_mask import causal_mask",
             "from attention import self_attention\nfrom attention.causal_mask import causal_mask"),
            ("scores = scores.masked_fill(self.mask[:T, :T], -torch.inf)  # keys after the query get -inf\n"
             "        weights = torch.softmax(scores / self.d_out_kq**0.5, dim=-1)\n"
             "        return weights @ values",
             "return self_attention.scaled_dot_attention(queries, keys, values, self.mask[:T, :T])"))
    rewrite("causal_mask",  # relative import of an earlier step's constant
            ("from attention.weights import attention_weights",
             "from attention.weights import attention_weights\n\nfrom .self_attention import HEAD_SIZES"),
            ("return torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)",
             "return torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=HEAD_SIZES['default'])"))
    rewrite("kv_cache",  # relative import of a private helper module
            ("from attention.weights import attention_weights",
             "from attention.weights import attention_weights\n\nfrom ._helpers import attend"),
            ("weights = attention_weights(scores, query.shape[-1])",
             "weights = attention_weights(scores, query.shape[-1])\n"
             "    assert torch.allclose(attend(query, cache.keys, cache.values), weights @ cache.values, atol=1e-4)"))


def _broken_earlier_api_only(root: Path) -> None:
    """solutions/ with a self_attention.py that cannot be imported and an __init__.py that raises."""
    shutil.copytree(SOLUTIONS, root / "attention")
    path = root / "attention" / "self_attention.py"
    path.write_text(path.read_text() + "\ndef broken(:\n")
    (root / "attention" / "__init__.py").write_text('raise RuntimeError("half-written __init__")\n')


SUBCLASSED_SELF_ATTENTION = '''"""SelfAttention with helper methods that later steps' subclasses call."""
import torch
from torch import nn

from attention.projections import init_projections


class _Checked:
    """A base class of the learner's own, in the same file."""

    def _check(self, x):
        if x.dim() < 2 or x.shape[-1] != self.d_in:
            raise ValueError(f"x must have shape (T, {self.d_in}) or (B, T, {self.d_in}), got {tuple(x.shape)}")


class SelfAttention(_Checked, nn.Module):
    SCALE_POWER = 0.5  # a class attribute the subclasses use through the helper

    def __init__(self, d_in, d_out_kq, d_out_v):
        super().__init__()
        self.d_in = d_in
        self.d_out_kq = d_out_kq
        self.W_query, self.W_key, self.W_value = init_projections(d_in, d_out_kq, d_out_v)

    def _project(self, x):
        return x @ self.W_query, x @ self.W_key, x @ self.W_value

    def _attend(self, queries, keys, values, blocked=None):
        scores = queries @ keys.transpose(-2, -1)
        if blocked is not None:
            scores = scores.masked_fill(blocked, -torch.inf)
        return torch.softmax(scores / self.d_out_kq**self.SCALE_POWER, dim=-1) @ values

    def forward(self, x):
        self._check(x)
        return FORWARD
'''
SUBCLASSED_CROSS_ATTENTION = '''"""CrossAttention: the learner's own SelfAttention, queries from x_1."""
from attention.self_attention import SelfAttention


class CrossAttention(SelfAttention):
    def forward(self, x_1, x_2):
        self._check(x_1)
        self._check(x_2)
        if x_1.shape[:-2] != x_2.shape[:-2]:
            raise ValueError("x_1 and x_2 must have the same batch shape")
        queries, _, _ = self._project(x_1)
        _, keys, values = self._project(x_2)
        return self._attend(queries, keys, values)
'''
SUBCLASSED_CAUSAL_ATTENTION = '''

from attention.self_attention import SelfAttention  # noqa: E402


class CausalSelfAttention(SelfAttention):
    def __init__(self, d_in, d_out_kq, d_out_v, context_length):
        if isinstance(context_length, bool) or not isinstance(context_length, int) or context_length < 1:
            raise ValueError(f"context_length must be a positive integer, got {context_length!r}")
        super().__init__(d_in, d_out_kq, d_out_v)
        self.context_length = context_length
        self.register_buffer("mask", causal_mask(context_length))

    def forward(self, x):
        self._check(x)
        T = x.shape[-2]
        if T > self.context_length:
            raise ValueError(f"{T} tokens, more than context_length = {self.context_length}")
        return self._attend(*self._project(x), blocked=self.mask[:T, :T])
'''


def _subclassing(root: Path, wrong_forward: bool = False) -> None:
    """solutions/, with CrossAttention and CausalSelfAttention subclassing the learner's own SelfAttention and
    calling its helper methods, class attribute and the attributes its __init__ sets."""
    package = root / "attention"
    shutil.copytree(SOLUTIONS, package)
    forward = "torch.softmax(x @ self.W_query @ (x @ self.W_key).mT, dim=-1) @ (x @ self.W_value)" if wrong_forward \
        else "self._attend(*self._project(x))"
    (package / "self_attention.py").write_text(SUBCLASSED_SELF_ATTENTION.replace("FORWARD", forward))
    (package / "cross_attention.py").write_text(SUBCLASSED_CROSS_ATTENTION)
    causal = (package / "causal_attention.py").read_text()  # its token_output, then the subclass
    (package / "causal_attention.py").write_text(causal[: causal.index("class CausalSelfAttention")]
                                                  + SUBCLASSED_CAUSAL_ATTENTION)


CASES: dict[str, Callable[[Path], None]] = {
    "subclassing": _subclassing,
    "subclassing_wrong_api": lambda root: _subclassing(root, wrong_forward=True),
    "shared": _shared,
    "shared_wrong_api": lambda root: _shared(root, wrong_self_attention=True),
    "shared_broken_module": lambda root: _shared(root, broken_self_attention=True),
    "broken_earlier_api_only": _broken_earlier_api_only,
}


@pytest.fixture(scope="module")
def graded() -> Iterator[dict[str, SubmissionResult]]:
    root = Path(tempfile.mkdtemp(prefix="standins-"))
    os.chmod(root, 0o711)
    (root / "work").mkdir()
    os.chmod(root / "work", 0o711)
    submissions = []
    for name, build in CASES.items():
        build(root / "submissions" / name)
        submissions.append(Submission(name, root / "submissions" / name))
    zygote = Zygote()
    zygote.start()
    try:
        grader = Grader(COURSE, load_hidden_checks(), seed=2024, zygote=zygote, work_root=root / "work",
                        hidden_paths=tuple(str(s.path) for s in submissions))
        results = grader.grade_many(submissions, jobs=2)
        assert all(isinstance(r, SubmissionResult) for r in results.values()), results
        yield results  # type: ignore[misc]
    finally:
        zygote.close()
        shutil.rmtree(root, ignore_errors=True)


def _lost(result: SubmissionResult) -> dict[str, float]:
    return {step: result.step_score(step) for step in POINTS if result.step_score(step) != POINTS[step]}


def _outputs(result: SubmissionResult, step: str) -> list[str]:
    return [t.output for t in result.tests if t.step == step]


def test_helpers_shared_between_modules_in_every_import_style_score_100(graded) -> None:  # noqa: ANN001
    result = graded["shared"]
    assert result.score == 100, {s: _outputs(result, s) for s in _lost(result)}


def test_subclasses_of_the_learners_own_earlier_class_keep_its_helpers_and_score_100(graded) -> None:  # noqa: ANN001
    """CrossAttention and CausalSelfAttention subclass the learner's SelfAttention and call its helper
    methods (``self._project(x)``, ``self._check(x)`` from its own base class), a class attribute and
    attributes its ``__init__`` sets (``self.d_in``)."""
    result = graded["subclassing"]
    assert result.score == 100, {s: _outputs(result, s) for s in _lost(result)}


def test_a_wrong_api_beside_right_helpers_costs_only_its_own_step(graded) -> None:  # noqa: ANN001
    """The learner's SelfAttention.forward is wrong; its helpers, which the subclasses use, are right."""
    result = graded["subclassing_wrong_api"]
    lost = _lost(result)
    assert list(lost) == ["self_attention"], {s: _outputs(result, s) for s in lost}


def test_a_wrong_api_in_an_earlier_step_costs_only_that_step(graded) -> None:  # noqa: ANN001
    """multi_head uses the earlier module's helpers, which call and subclass its (wrong) SelfAttention:
    they get the stand-in, so only self_attention loses points."""
    result = graded["shared_wrong_api"]
    lost = _lost(result)
    assert list(lost) == ["self_attention"], {s: _outputs(result, s) for s in lost}
    assert lost["self_attention"] < POINTS["self_attention"]


def test_an_earlier_module_that_cannot_be_imported_is_named_where_its_helpers_are_needed(graded) -> None:  # noqa: ANN001
    """multi_head and causal_mask import a helper at import time (every test fails); cross_attention and
    causal_attention look theirs up when forward runs (the tests that run forward fail). Each failure
    names the file."""
    result = graded["shared_broken_module"]
    lost = _lost(result)
    assert set(lost) == {"self_attention", "multi_head", "cross_attention", "causal_mask", "causal_attention"}, lost
    assert lost["self_attention"] == lost["multi_head"] == 0
    assert lost["causal_mask"] == sum(q.points for q in questions_of("causal_mask"))  # its concept questions only
    for step in ("multi_head", "cross_attention", "causal_mask", "causal_attention"):
        failed = [t.output for t in result.tests if t.step == step and not t.passed]
        assert failed
        for output in failed:
            assert "attention/self_attention.py could not be imported: SyntaxError: invalid syntax, line" in output


def test_a_later_step_that_needs_only_the_api_names_of_a_broken_module_gets_the_stand_ins(graded) -> None:  # noqa: ANN001
    result = graded["broken_earlier_api_only"]
    assert _lost(result) == {"self_attention": 0}, {s: _outputs(result, s) for s in _lost(result)}


def test_notebook_helpers_see_the_stand_ins_of_earlier_steps() -> None:
    """In-process (nbgrader): a notebook helper calling an earlier (wrong) API gets the stand-in."""
    from autograder.hidden.notebook import run_hidden

    namespace: dict = {}
    exec(compile((SOLUTIONS / "self_attention.py").read_text().replace(  # noqa: S102 - our own solution
        "from attention.projections import init_projections", "").replace(
        "weights = torch.softmax(scores / self.d_out_kq**0.5, dim=-1)",
        "weights = attention_weights(scores, self.d_out_kq)"), "notebook", "exec"), namespace)
    namespace["attention_weights"] = lambda scores, d_k: torch.softmax(scores, dim=-1)  # wrong: no scaling
    namespace["init_projections"] = None  # wrong: the stand-in replaces it while the step is checked
    run_hidden("self_attention", namespace)
    assert namespace["init_projections"] is None  # and the learner's own names come back afterwards


def test_the_gradescope_runner_keeps_shared_helpers(tmp_path: Path) -> None:
    """The Gradescope runner grades with the same engine: the shared-helper submission scores 100 there too."""
    import json

    from autograder.grading.gradescope_run import main

    os.chmod(tmp_path, 0o711)
    _shared(tmp_path / "submission")
    assert main(["--root", str(tmp_path), "--seed", "7"]) == 0
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    assert results["score"] == 100, [t["output"] for t in results["tests"] if t["score"] < t["max_score"]]
