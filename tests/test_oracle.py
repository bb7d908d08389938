"""The stand-ins' oracle: the grader answers earlier steps' API calls for the learner's child, and
survives whatever the child asks.

In-process tests drive `Oracle.answer` with hand-written requests (the child's side is hostile, so
malformed, forged and giant ones too); sandbox tests run shells in a real child and compare their
answers, and the RNG stream around them, with the reference computed in-process.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from autograder import reference
from autograder.grading.engine import default_hidden_paths
from autograder.sandbox.oracle import MAX_REQUESTS_PER_CALL, Oracle
from autograder.sandbox.remote import Budget, RemoteSubject, SessionSpec, StepSession, Zygote
from autograder.sandbox.uids import reserve_uid_block
from autograder.sandbox.wire import encode_value
from selfcheck.errors import CallFailed

IS_ROOT = os.geteuid() == 0
SANDBOX_UID_BASE = reserve_uid_block().first if IS_ROOT else -1
EARLIER = {"projections": ("init_projections", "project_qkv"), "weights": ("attention_weights",),
           "self_attention": ("SelfAttention",), "multi_head": ("MultiHeadAttentionWrapper", "MultiHeadAttention")}


def _request(op: str, name: str, *args: Any, rng: torch.Tensor | None = None, **fields: Any) -> tuple[dict, dict]:
    tensors: dict[str, torch.Tensor] = {}
    header = {"op": op, "name": name, "args": encode_value(list(args), tensors, lambda _: {}), **fields}
    tensors["rng"] = torch.get_rng_state() if rng is None else rng
    return header, tensors


def _refused(reply: tuple[dict, dict]) -> str:
    header, _ = reply
    assert header["ok"] is False, header
    assert header["error"]["type"] in {"ValueError", "RuntimeError", "TypeError"}, header
    return header["error"]["message"]


@pytest.fixture()
def oracle() -> Oracle:
    return Oracle(name for names in EARLIER.values() for name in names)


def test_a_construction_draws_from_the_childs_rng_state_and_returns_the_state_after(oracle: Oracle) -> None:
    torch.manual_seed(11)
    state = torch.get_rng_state()
    expected = reference.SelfAttention(5, 4, 3)
    expected_after = torch.get_rng_state()
    grader_rng = torch.get_rng_state()
    header, tensors = oracle.answer(*_request("new", "SelfAttention", 5, 4, 3, rng=state))
    assert header["ok"], header
    assert torch.equal(torch.get_rng_state(), grader_rng)  # the grader's own generator is left alone
    assert torch.equal(tensors["rng"], expected_after)
    parameters = dict(header["self"]["object"]["items"])["parameters"]
    got = {name: tensors[value["key"]] for name, value in parameters["items"]}
    for name in ("W_query", "W_key", "W_value"):
        assert torch.equal(got[name], getattr(expected, name).detach())


def test_a_function_answers_as_the_reference(oracle: Oracle) -> None:
    scores = torch.randn(2, 4, 4)
    header, tensors = oracle.answer(*_request("call", "attention_weights", scores, 3))
    assert header["ok"] and "rng" not in tensors  # no draw: the child's state stays
    assert torch.equal(tensors[header["value"]["key"]], reference.attention_weights(scores, 3))


@pytest.mark.parametrize(("header", "tensors"), [
    ("junk", {}),
    ({"op": "call", "name": "attention_weights"}, {}),  # no RNG state
    ({"op": "call", "name": "attention_weights", "args": []}, {"rng": torch.zeros(3)}),
    ({"op": "call", "name": "causal_mask", "args": [3]}, None),  # a later step
    ({"op": "call", "name": "__class__", "args": []}, None),
    ({"op": "new", "name": "attention_weights", "args": []}, None),  # not a class
    ({"op": "method", "name": "SelfAttention", "method": "__reduce__", "args": []}, None),
    ({"op": "method", "name": "SelfAttention", "method": "forward", "args": [],
      "self": {"$": "ref", "object": {"$": "dict", "items": [
          ["class", "SelfAttention"], ["kind", "module"],
          ["attributes", {"$": "dict", "items": [["__class__", 1]]}]]}}},
     None),
    ({"op": "method", "name": "SelfAttention", "method": "forward", "args": [],
      "self": {"$": "ref", "object": {"$": "dict", "items": [
          ["class", "SelfAttention"], ["kind", "module"], ["attributes", {"$": "dict", "items": [["forward", 1]]}]]}}},
     None),
    ({"op": "method", "name": "SelfAttention", "method": "forward", "args": [],
      "self": {"$": "ref", "object": {"$": "dict", "items": [["class", "CausalSelfAttention"], ["kind", "module"]]}}},
     None),
    ({"op": "call", "name": "attention_weights", "args": [{"$": "tensor", "key": "big"}, 2]},
     {"big": torch.zeros(3_000_000)}),
    ({"op": "call", "name": "attention_weights", "args": [{"$": "tuple", "items": []}] * 2 + [[[[[]]]]] * 2}, None),
])
def test_a_malformed_forged_or_giant_request_is_refused_and_the_next_one_answered(
        oracle: Oracle, header: Any, tensors: dict | None) -> None:
    tensors = {"rng": torch.get_rng_state()} if tensors is None else dict(tensors, **(
        {"rng": torch.get_rng_state()} if "big" in tensors else {}))
    _refused(oracle.answer(header, tensors))
    assert oracle.answer(*_request("call", "attention_weights", torch.ones(2, 2), 2))[0]["ok"]


def test_nested_objects_and_too_many_of_them_are_refused(oracle: Oracle) -> None:
    deep: dict = {"$": "dict", "items": [["kind", "module"]]}
    for _ in range(3000):  # deeper than Python's recursion limit
        deep = {"$": "dict", "items": [["kind", "module"], ["modules", {"$": "dict", "items": [
            ["m", {"$": "ref", "object": deep}]]}]]}
    forged = {"op": "method", "name": "SelfAttention", "method": "forward", "args": [],
              "self": {"$": "ref", "object": deep}}
    _refused(oracle.answer(forged, {"rng": torch.get_rng_state()}))
    many = {"$": "dict", "items": [["class", "SelfAttention"], ["kind", "module"], ["modules", {"$": "dict", "items": [
        [f"m{i}", {"$": "ref", "object": {"$": "dict", "items": [["kind", "module"]]}}] for i in range(600)]}]]}
    assert "at most" in _refused(oracle.answer(dict(forged, self={"$": "ref", "object": many}),
                                               {"rng": torch.get_rng_state()}))


@pytest.mark.parametrize(("op", "name", "args"), [
    ("new", "SelfAttention", (4096, 4096, 4096)),  # a factory: refused before it allocates
    ("new", "MultiHeadAttentionWrapper", (1, 1, 1, 10**6)),  # too many operations
    ("call", "init_projections", (10**9, 10**9, 1)),
    ("call", "attention_weights", (torch.zeros(1, 1500, 1500), 1)),  # within the request cap, too much work
])
def test_work_is_bounded_before_it_is_done(oracle: Oracle, op: str, name: str, args: tuple) -> None:
    assert "the grader's stand-in for" in _refused(oracle.answer(*_request(op, name, *args)))


PROBE = textwrap.dedent('''
    import torch
    from attention.multi_head import MultiHeadAttention, MultiHeadAttentionWrapper
    from attention.self_attention import SelfAttention
    from attention.weights import attention_weights


    class Head(SelfAttention):
        """A learner subclass: super() calls reach the shell."""

        def forward(self, x):
            return super().forward(x) * 2


    def draws(seed):
        torch.manual_seed(seed)
        head = SelfAttention(4, 3, 2)
        wrapper = MultiHeadAttentionWrapper(4, 3, 2, 3)
        after = torch.rand(3)
        x = torch.randn(2, 5, 4)
        merged = MultiHeadAttention.from_wrapper(wrapper)
        return ([head.W_query, head.W_key, head.W_value], [h.W_query for h in wrapper.heads], after,
                wrapper(x), merged(x), Head(4, 3, 2)(x), type(wrapper.heads).__name__)

    def numpy_weights():
        import numpy
        return attention_weights(numpy.array([[1.0, 2.0], [3.0, 0.5]]), numpy.int64(2))

    def stop_reading():
        import sys
        import time
        shells, wire = sys.modules["autograder.sandbox.shells"], sys.modules["autograder.sandbox.wire"]
        wire.send_message(shells.CLIENT.conn, {"oracle": {"op": "call", "name": "attention_weights", "args": [
            {"$": "tensor", "key": "t0"}, 1]}}, {"t0": torch.zeros(1, 700, 700), "rng": torch.get_rng_state()})
        time.sleep(1000)  # and never read the 2 MB answer

    def flood():
        for _ in range(10**7):
            attention_weights(torch.ones(2, 2), 2)
''')


@pytest.fixture(scope="module")
def child() -> Iterator[tuple[Zygote, Path]]:
    root = Path(tempfile.mkdtemp(prefix="oracle-test-"))
    os.chmod(root, 0o711)
    package = root / "sub" / "attention"
    package.mkdir(parents=True)
    (package / "probe.py").write_text(PROBE)
    if IS_ROOT:
        for path in (root / "sub", package, package / "probe.py"):
            os.chown(path, SANDBOX_UID_BASE, SANDBOX_UID_BASE)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as `grade` runs: tiny operations on a busy machine wait for no thread pool
    zygote = Zygote()
    zygote.start()
    yield zygote, root
    torch.set_num_threads(threads)
    zygote.close()
    shutil.rmtree(root, ignore_errors=True)


def _subject(zygote: Zygote, root: Path, call_seconds: float = 60.0) -> RemoteSubject:
    spec = SessionSpec(
        package_dir=str(root / "sub" / "attention"), module="probe", standins=EARLIER,
        step_ids={m: m for m in EARLIER}, workdir=str(root / "sub"), output_path=str(root / "o.txt"),
        memory_bytes=1024 * 2**20, cpu_seconds=120, output_bytes=64 * 1024,
        uid=SANDBOX_UID_BASE if IS_ROOT else None, hidden_paths=default_hidden_paths(),
    )
    session = StepSession(zygote, spec, call_seconds, Budget(120))
    session.start()
    assert session.import_failure is None, session.import_failure
    return RemoteSubject("probe", "attention/probe.py", session)


def test_shells_in_the_child_draw_and_answer_exactly_as_the_reference_in_process(child: tuple[Zygote, Path]) -> None:
    subject = _subject(*child)
    try:
        head, wrapper_heads, after, wrapped, merged, doubled, container = subject.draws(5)
    finally:
        subject.session.close()
    torch.manual_seed(5)
    expected_head = reference.SelfAttention(4, 3, 2)
    expected_wrapper = reference.MultiHeadAttentionWrapper(4, 3, 2, 3)
    expected_after = torch.rand(3)
    x = torch.randn(2, 5, 4)
    for got, want in zip(head, (expected_head.W_query, expected_head.W_key, expected_head.W_value), strict=True):
        assert torch.equal(got, want.detach())
    assert all(torch.equal(g, h.W_query.detach()) for g, h in zip(wrapper_heads, expected_wrapper.heads, strict=True))
    assert torch.equal(after, expected_after)  # the child's stream continues as if the reference drew there
    with torch.no_grad():
        assert torch.allclose(wrapped, expected_wrapper(x))
        assert torch.allclose(merged, reference.MultiHeadAttention.from_wrapper(expected_wrapper)(x), atol=1e-6)
    assert doubled.shape == (2, 5, 2)
    assert container == "ModuleList"


def test_numpy_arguments_reach_the_reference_as_tensors(child: tuple[Zygote, Path]) -> None:
    subject = _subject(*child)
    try:
        got = subject.numpy_weights()
    finally:
        subject.session.close()
    expected = reference.attention_weights(torch.tensor([[1.0, 2.0], [3.0, 0.5]], dtype=torch.float64), 2)
    assert torch.allclose(got, expected)


def test_a_child_flooding_the_oracle_fails_its_own_call(child: tuple[Zygote, Path]) -> None:
    subject = _subject(*child)
    try:
        with pytest.raises(CallFailed) as raised:
            subject.flood()
        assert f"more than {MAX_REQUESTS_PER_CALL:,} times in one call" in str(raised.value)
        assert subject.session.dead
    finally:
        subject.session.close()


def test_a_child_that_stops_reading_its_answer_fails_its_own_call_in_time(child: tuple[Zygote, Path]) -> None:
    subject = _subject(*child, call_seconds=4.0)
    started = time.monotonic()
    try:
        with pytest.raises(CallFailed) as raised:
            subject.stop_reading()
        assert "did not finish within 4 s (it stopped reading" in str(raised.value)
    finally:
        subject.session.close()
    assert time.monotonic() - started < 10
