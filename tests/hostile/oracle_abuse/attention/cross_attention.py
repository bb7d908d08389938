"""Hostile: abuse the grader's stand-ins with giant, malformed and forged requests, also written by hand on
the child's own connection. Each must become an exception here, and the grader must carry on; what
happened is put into the error message of the batched checks."""
import sys

import torch
from attention_solution_cross_attention import *  # noqa: F401,F403 - replaced by the fixture with the solution
from attention_solution_cross_attention import CrossAttention as _Correct

import attention.multi_head as multi_head
import attention.projections as projections
import attention.scores as scores
import attention.self_attention as self_attention

_seen = []


def _try(label, make):
    try:
        make()
        _seen.append((label, "ANSWERED"))
    except BaseException as error:  # noqa: BLE001
        _seen.append((label, type(error).__name__))


_shells = sys.modules["autograder.sandbox.shells"]
_wire = sys.modules["autograder.sandbox.wire"]


def _raw(header, tensors=None):
    """One request written by hand on the connection the stand-ins use."""
    with _shells.CLIENT.lock:
        _wire.send_message(_shells.CLIENT.conn, {"oracle": header}, tensors or {})
        reply, _ = _wire.recv_message(_shells.CLIENT.conn)
    if reply.get("ok"):
        raise AssertionError("answered")
    raise RuntimeError(reply["error"]["message"])


def _rng():
    return {"rng": torch.get_rng_state()}


def _forged(state_items, method="forward"):
    return {"op": "method", "name": "SelfAttention", "method": method, "args": [],
            "self": {"$": "ref", "object": {"$": "dict", "items": state_items}}}


_try("huge module", lambda: self_attention.SelfAttention(4096, 4096, 4096))
_try("many heads", lambda: multi_head.MultiHeadAttentionWrapper(1, 1, 1, 10**6))
_try("huge sizes", lambda: projections.init_projections(10**9, 10**9, 1))
_try("giant tensor", lambda: _raw({"op": "call", "name": "attention_scores", "args": [
    {"$": "tensor", "key": "t0"}, {"$": "tensor", "key": "t0"}]}, {"t0": torch.zeros(3_000_000), **_rng()}))
_try("quadratic", lambda: scores.attention_scores(torch.zeros(1500, 1), torch.zeros(1500, 1)))
_try("not a dict", lambda: _raw("junk", _rng()))
_try("no rng", lambda: _raw({"op": "call", "name": "attention_scores", "args": []}))
_try("bad rng", lambda: _raw({"op": "call", "name": "attention_scores", "args": []}, {"rng": torch.zeros(3)}))
_try("later step", lambda: _raw({"op": "call", "name": "causal_mask", "args": [3]}, _rng()))
_try("own step", lambda: _raw({"op": "new", "name": "CrossAttention", "args": [2, 2, 2]}, _rng()))
_try("dunder method", lambda: _raw(_forged([], method="__reduce__"), _rng()))
_try("forged class", lambda: _raw(_forged([["class", "SelfAttention"], ["kind", "module"], ["attributes", {
    "$": "dict", "items": [["__class__", 1]]}]]), _rng()))
_try("forged name", lambda: _raw(_forged([["class", "SelfAttention"], ["kind", "module"], ["attributes", {
    "$": "dict", "items": [["forward", 1]]}]]), _rng()))
_try("later class", lambda: _raw(_forged([["class", "CausalSelfAttention"], ["kind", "module"]]), _rng()))
_try("objects", lambda: _raw(_forged([["class", "SelfAttention"], ["kind", "module"], ["modules", {
    "$": "dict", "items": [[f"m{i}", {"$": "ref", "object": {"$": "dict", "items": [["kind", "module"]]}}]
                           for i in range(600)]}]]), _rng()))


class CrossAttention(_Correct):
    def forward(self, x_1, x_2):
        if x_1.dim() == 3:
            odd = [f"{label}: {kind}" for label, kind in _seen if kind not in ("ValueError", "RuntimeError")]
            refused = len(_seen) - len(odd)
            raise RuntimeError(f"ABUSE refused {refused} of {len(_seen)}; otherwise: {odd}")
        return super().forward(x_1, x_2)
