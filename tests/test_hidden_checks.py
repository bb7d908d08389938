"""The hidden checks (``autograder/hidden``) and the reference (``autograder/reference.py``).

- every hidden check passes on the solutions (several seeds), on the reference itself and on
  correct solutions written in other styles (einsum, manual softmax, float64 inside, loops);
- every common mistake fails the right check, and the message names the mistake; a mistake in
  one aspect fails only the checks about that aspect;
- messages never contain hidden input values;
- every step of ``course.yml`` has checks, with positive weights;
- checks are deterministic for a seed and differ across seeds.

Everything runs in-process (`LocalSubject`), single-threaded for speed.
"""

from __future__ import annotations

import importlib
import math
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from correct_styles import STYLES
from mistake_cases import MISTAKES, Mistake, cross_module, decode, drawn, in_place_scores, non_square_ok
from torch import nn

from autograder import reference as ref
from autograder.course import load_course
from autograder.hidden import HIDDEN, load_hidden_checks
from selfcheck import LocalSubject, Outcome, run_check
from selfcheck.plain import tensors_in, to_plain
from selfcheck.subject import LocalHandle

CHECKS = load_hidden_checks()
COURSE = load_course()
STEPS = [step.id for step in COURSE.steps]
MODULES = {step.id: step.module for step in COURSE.steps}
SEEDS = (0, 1, 987_654_321)
FACT_CHECKS = {  # checks on the course's published facts (they may show expected values, and use no randomness)
    ("tokens", "example_sentence"), ("embedding", "example_row"), ("self_attention", "example_row"),
    ("causal_pairs", "example_seven"), ("causal_attention", "token_output_example"),
}
SAMPLES = Path(__file__).resolve().parents[1] / "autograder" / "samples"
NEG_INF = float("-inf")


@pytest.fixture(autouse=True, scope="module")
def _single_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead
    yield
    torch.set_num_threads(threads)


def run_all(step: str, namespace: dict[str, Any], seed: int) -> dict[str, Outcome]:
    subject = LocalSubject(step, namespace, f"attention/{MODULES[step]}.py")
    return {check.name: run_check(check, subject, seed) for check in CHECKS.for_step(step)}


def run_one(step: str, namespace: dict[str, Any], name: str, seed: int) -> Outcome:
    check = next(c for c in CHECKS.for_step(step) if c.name == name)
    return run_check(check, LocalSubject(step, namespace, f"attention/{MODULES[step]}.py"), seed)


def failures(outcomes: dict[str, Outcome]) -> dict[str, str]:
    return {name: f"[{o.status}] {o.message}" for name, o in outcomes.items() if not o.passed}


def reference_with(**overrides: Any) -> dict[str, Any]:
    """The reference's namespace with some API names replaced (a learner module with one mistake)."""
    namespace = ref.namespace()
    namespace.update(overrides)
    return namespace


# ---------------------------------------------------------------------------------------------
# (a) correct code passes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("step", STEPS)
def test_solutions_pass_every_check(step: str, solutions_module: Callable) -> None:
    namespace = vars(solutions_module(MODULES[step]))
    for seed in SEEDS:
        assert failures(run_all(step, namespace, seed)) == {}, f"seed {seed}"


@pytest.mark.parametrize("step", STEPS)
def test_reference_passes_every_check(step: str) -> None:
    for seed in SEEDS:
        assert failures(run_all(step, ref.namespace(), seed)) == {}, f"seed {seed}"


@pytest.mark.parametrize("step", STEPS)
def test_einsum_sample_passes(step: str, solutions_module: Callable) -> None:
    """The bundled correct sample in einsum/manual-softmax style (the fixture purges `attention` afterwards)."""
    if not (SAMPLES / "complete_einsum" / "attention" / f"{MODULES[step]}.py").is_file():
        pytest.skip("no complete_einsum sample for this step")
    for name in [n for n in sys.modules if n == "attention" or n.startswith("attention.")]:
        del sys.modules[name]
    sys.path.insert(0, str(SAMPLES / "complete_einsum"))
    try:
        namespace = vars(importlib.import_module(f"attention.{MODULES[step]}"))
    finally:
        sys.path.remove(str(SAMPLES / "complete_einsum"))
    assert failures(run_all(step, namespace, 5)) == {}


# ---------------------------------------------------------------------------------------------
# (c) correct code in other styles passes
# ---------------------------------------------------------------------------------------------




@pytest.mark.parametrize("step", STEPS)
def test_other_styles_pass(step: str) -> None:
    namespace = reference_with(**STYLES[step])
    for seed in SEEDS[-2:]:
        assert failures(run_all(step, namespace, seed)) == {}, f"seed {seed}"


# ---------------------------------------------------------------------------------------------
# (b) common mistakes fail the right check, named
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: f"{m.step}-{m.label}")
def test_mistake_fails_its_check_and_is_named(mistake: Mistake) -> None:
    namespace = reference_with(**mistake.overrides)
    for seed in mistake.seeds:
        outcome = run_one(mistake.step, namespace, mistake.check, seed)
        assert outcome.status == "failed", f"seed {seed}: {outcome}"
        assert mistake.says in outcome.message, f"seed {seed}: {outcome.message}"


ISOLATED = [  # (step, overrides, exactly the checks that fail)
    ("weights", {"attention_weights": lambda s, d: torch.softmax(s.double() / math.sqrt(d), -1)}, {"float32_result"}),
    ("scores", {"attention_scores": in_place_scores}, {"inputs_unchanged"}),
    ("embedding", {"embed": lambda ids, vocab_size=50_000, dim=3, seed=123: (
        torch.manual_seed(seed), nn.Embedding(vocab_size, dim))[1](torch.as_tensor(ids))}, {"detached_float32"}),
    ("projections", {"init_projections": drawn((1, 0, 2))}, {"seeded_draws", "unseeded_draws"}),
    ("self_attention", {"SelfAttention": type("Randn", (ref.SelfAttention,), {"__init__": lambda self, a, b, c: (
        nn.Module.__init__(self), setattr(self, "W_query", nn.Parameter(torch.randn(a, b))),
        setattr(self, "W_key", nn.Parameter(torch.randn(a, b))),
        setattr(self, "W_value", nn.Parameter(torch.randn(a, c))))[0]})}, {"parameter_draws", "example_row"}),
    ("causal_mask", {"causal_mask": lambda n: torch.ones(n, n).triu(1)}, {"masks"}),
    ("causal_mask", {"mask_scores": non_square_ok}, {"non_square_rejected"}),
    ("causal_attention", {"CausalSelfAttention": type("NoBuffer", (ref.CausalSelfAttention,), {
        "__init__": lambda self, a, b, c, n: (ref.CausalSelfAttention.__init__(self, a, b, c, n), delattr(
            self, "mask"), setattr(self, "mask", ref.causal_mask(n)))[0]})}, {"parameters_and_mask"}),
    ("kv_cache", {"decode_step": decode("nofull")}, {"full_cache"}),
    ("cross_attention", {"CrossAttention": cross_module("k1")}, {"different_lengths", "same_lengths", "batched"}),
]


@pytest.mark.parametrize("step, overrides, failing", ISOLATED, ids=[f"{s}-{sorted(f)}" for s, _, f in ISOLATED])
def test_mistake_fails_only_its_aspect(step: str, overrides: dict[str, Any], failing: set[str]) -> None:
    assert set(failures(run_all(step, reference_with(**overrides), 6))) == failing


# ---------------------------------------------------------------------------------------------
# (d) messages never show hidden inputs
# ---------------------------------------------------------------------------------------------


class RecordingHandle(LocalHandle):
    """A local handle that records every tensor passed to or returned by learner code."""

    def _h_wrap(self, value: Any, label: str) -> Any:
        return to_plain(value, lambda obj: RecordingHandle(self._h_subject, obj, label))

    def _h_call(self, args: tuple, kwargs: dict, label: str) -> Any:
        record = self._h_subject.recorded  # type: ignore[attr-defined]
        record.extend(t.detach().clone() for _, t in tensors_in(args, kwargs))
        record.extend(repr(a) for a in args if isinstance(a, (int, float, str)) and not isinstance(a, bool))
        result = super()._h_call(args, kwargs, label)
        record.extend(t.detach().clone() for _, t in tensors_in((result,), {}))
        return result


class RecordingSubject(LocalSubject):
    def __init__(self, step: str, namespace: dict[str, Any]) -> None:
        super().__init__(step, namespace, f"attention/{MODULES[step]}.py")
        self.recorded: list[Any] = []

    def _lookup_api(self, name: str) -> RecordingHandle | None:
        return RecordingHandle(self, self._namespace[name], name) if name in self._namespace else None


def _printed_forms(recorded: list[Any]) -> set[str]:
    forms: set[str] = set()
    for item in recorded:
        if isinstance(item, str):
            forms.update({item} if len(item) > 3 else set())
        elif item.is_floating_point():
            finite = item[torch.isfinite(item)].double().flatten()
            forms.update(f"{v:.4f}" for v in finite.tolist() if 0.01 <= abs(v) < 1e6)
    return forms


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: f"{m.step}-{m.label}")
def test_messages_do_not_show_hidden_inputs(mistake: Mistake) -> None:
    if (mistake.step, mistake.check) in FACT_CHECKS or mistake.label == "loop count":
        pytest.skip("facts are public; the slow mutant is covered above")
    check = next(c for c in CHECKS.for_step(mistake.step) if c.name == mistake.check)
    subject = RecordingSubject(mistake.step, reference_with(**mistake.overrides))
    outcome = run_check(check, subject, 3)
    assert not outcome.passed
    leaked = [form for form in _printed_forms(subject.recorded) if form in outcome.message]
    assert leaked == [], outcome.message
    assert not re.search(r"tensor\(\[*-?\d", outcome.message) and "expected:" not in outcome.message


# ---------------------------------------------------------------------------------------------
# (e) coverage of course.yml, (f) determinism
# ---------------------------------------------------------------------------------------------


def test_every_step_has_checks_with_positive_weights() -> None:
    assert set(CHECKS.steps()) == set(STEPS)
    for step in STEPS:
        checks = CHECKS.for_step(step)
        assert 3 <= len(checks) <= 8, step
        assert all(c.weight > 0 and c.title.strip() for c in checks), step
        assert sum(c.weight for c in checks) > 0


def test_loading_is_idempotent() -> None:
    before = [(c.step, c.name) for c in HIDDEN.all()]
    assert load_hidden_checks() is HIDDEN
    assert [(c.step, c.name) for c in HIDDEN.all()] == before


def _recording(check: Any, seed: int) -> list[Any]:
    subject = RecordingSubject(check.step, ref.namespace())
    assert run_check(check, subject, seed).passed
    return subject.recorded


def _same(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(
        (isinstance(x, str) and x == y) or (
            isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor) and x.shape == y.shape and x.dtype == y.dtype
            and bool(torch.isclose(x, y, rtol=0, atol=0, equal_nan=True).all()))
        for x, y in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("step", STEPS)
def test_checks_are_deterministic_per_seed_and_differ_across_seeds(step: str) -> None:
    for check in CHECKS.for_step(step):
        first = _recording(check, 11)
        assert _same(first, _recording(check, 11)), check.name
        if (step, check.name) not in FACT_CHECKS:
            assert not _same(first, _recording(check, 12)), check.name


# ---------------------------------------------------------------------------------------------
# The reference
# ---------------------------------------------------------------------------------------------


def test_reference_reproduces_the_spec_facts() -> None:
    vocab = ref.build_vocab("The sun rises in the east")
    assert vocab == {"The": 0, "east": 1, "in": 2, "rises": 3, "sun": 4, "the": 5}
    ids = ref.encode("The sun rises in the east", vocab)
    assert ids.tolist() == [0, 4, 3, 2, 5, 1] and ids.dtype == torch.int64
    with torch.random.fork_rng(devices=[]):
        embeddings = ref.embed(ids)
        assert torch.allclose(embeddings[0], torch.tensor([0.3374, -0.1778, -0.3035]), atol=5e-5)
        torch.manual_seed(123)
        row = ref.SelfAttention(3, 2, 4)(embeddings)[1]
    assert torch.allclose(row, torch.tensor([0.5313, 1.3607, 0.7891, 1.3110]), atol=5e-5)
    assert ref.count_causal_pairs(7) == 28 and ref.causal_pairs(7)[:3] == [(0, 0), (1, 0), (1, 1)]
    assert ref.keys_attended(5) == 6
    assert torch.allclose(ref.token_output([0.1, 0.6, 0.3], [[1, 2], [3, 0], [4, 5]]), torch.tensor([3.1, 1.7]))
    scores = torch.randn(2, 6, 6)
    assert torch.allclose(ref.causal_attention_weights(scores, 4),
                          ref.mask_and_renormalize(torch.softmax(scores / 2, -1)), atol=1e-6)


def test_reference_stand_ins_follow_the_spec() -> None:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        wrapper = ref.MultiHeadAttentionWrapper(5, 3, 4, 2)
        x = torch.randn(2, 7, 5)
        assert torch.allclose(ref.MultiHeadAttention.from_wrapper(wrapper)(x), wrapper(x), atol=1e-6)
        attn = ref.CausalSelfAttention(5, 3, 4, 8)
        assert [n for n, _ in attn.named_parameters()] == ["W_query", "W_key", "W_value"]
        assert torch.equal(dict(attn.named_buffers())["mask"], ref.causal_mask(8))
        cache = ref.KVCache()
        rows = [ref.decode_step(attn, x[:, t], cache) for t in range(7)]
    assert torch.allclose(torch.stack(rows, 1), attn(x), atol=1e-6) and len(cache) == 7
    for bad in (-1, True, 2.5, "3"):
        with pytest.raises(ValueError):
            ref.count_causal_pairs(bad)
    with pytest.raises(ValueError):
        ref.mask_scores(torch.zeros(3, 4))
    with pytest.raises(ValueError):
        attn(torch.zeros(9, 5))


def test_standin_namespace() -> None:
    for step in COURSE.steps:
        namespace = ref.standin_namespace(step.id, step.api)
        assert set(namespace) == set(step.api)
        assert all(namespace[name] is getattr(ref, name) for name in step.api)
    with pytest.raises(KeyError):
        ref.standin_namespace("tokens", ["standin_namespace"])
    api = {name for step in COURSE.steps for name in step.api}
    assert set(ref.OWNERS) == api
    for step in COURSE.steps:  # a step module's public names: its own API and what it imports, nothing more
        module = importlib.import_module(f"autograder.reference.steps.{step.module}")
        public = {name for name in vars(module) if not name.startswith("_")}
        imports = {"annotations", "math", "operator", "Any", "torch", "nn", "F"}
        earlier = {n for s in COURSE.steps[: COURSE.step_ids.index(step.id)] for n in s.api}
        assert public - imports - earlier == set(step.api), step.id


def test_reference_is_independent_of_the_solutions() -> None:
    for path in Path(ref.__file__).parent.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(from|import)\s+(solutions|attention)\b", source, re.MULTILINE), path


def test_reference_steps_import_only_earlier_steps() -> None:
    """A sandboxed child loads the reference of earlier steps only: no step module may import a later one."""
    order = COURSE.step_ids
    for step in COURSE.steps:
        source = (Path(ref.__file__).parent / "steps" / f"{step.module}.py").read_text(encoding="utf-8")
        for imported in re.findall(r"^from \.(\w+) import", source, re.MULTILINE):
            assert order.index(imported) < order.index(step.id), (step.id, imported)
        assert not re.search(r"\b_sdpa\b|= *F\.scaled_dot_product_attention\b", source), step.id


def test_seeded_reference_draws_are_safe_when_submissions_are_checked_in_parallel() -> None:
    """``--jobs 2`` checks two submissions in two threads of one process, with one torch generator."""
    from concurrent.futures import ThreadPoolExecutor

    from autograder.hidden._common import draws

    shapes = {"W_query": (9, 7), "W_key": (9, 7), "W_value": (9, 5)}
    order = ("W_query", "W_key", "W_value")
    expected = {seed: draws(seed, shapes, order) for seed in range(40)}

    def redraw(seed: int) -> bool:
        return all(torch.equal(a, b) for a, b in zip(draws(seed, shapes, order).values(),
                                                     expected[seed].values(), strict=True))

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(redraw, [seed for _ in range(25) for seed in range(40)]))
