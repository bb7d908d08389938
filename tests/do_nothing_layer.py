"""A do-nothing layer over a correct step module, for tests/test_do_nothing.py (copied as ``attention/_blank.py``).

``blank_api(globals(), names)`` at the end of a step module replaces each API name with a version that
computes nothing the grader could pay for: a function returns a blank result (``VARIANT`` says which) of
the type and shape the correct code would return; a module class keeps the documented parameters but
fills them with zeros, and its ``forward`` returns a blank result; another class (``KVCache``) shows
blank tensors. The correct code underneath only supplies shapes and never raises (a ValueError the
correct code would raise becomes a blank result), so no check of input validation is paid either.

Variants: ``zeros``; ``constant``; ``identity`` (the first tensor argument returned unchanged);
``published`` (the course example's answer for every input); ``recognizer`` (the course example's
answer on the course example's inputs, zeros otherwise); ``counting_calls`` (the example's answer on
the first call of each name, zeros afterwards); ``counting_builds`` (a class's first instance answers
with the example, its second keeps the correct ``torch.rand`` draws but returns zeros, later ones are
zeros).
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

import torch
from torch import nn

VARIANT = "zeros"  # the test writes the variant here

_IDS = torch.tensor([0, 4, 3, 2, 5, 1])
_X = torch.randn(50_000, 3, generator=torch.Generator().manual_seed(123))[_IDS]  # the embedded example sentence
_DRAWS = torch.Generator().manual_seed(123)
_WQ, _WK, _WV = (torch.rand(3, width, generator=_DRAWS) for width in (2, 2, 4))  # SelfAttention(3, 2, 4)'s draws
_Q, _K, _V = _X @ _WQ, _X @ _WK, _X @ _WV
_S = _Q @ _K.T
_W = torch.softmax(_S / 2**0.5, dim=-1)
_CAUSAL_W = torch.softmax(_S.masked_fill(torch.ones(6, 6, dtype=torch.bool).triu(1), float("-inf")) / 2**0.5, -1)

EXAMPLE_ARGS: dict[str, tuple] = {  # the course's example inputs, per function
    "attention_scores": (_Q, _K), "attention_weights": (_S, 2), "context_vectors": (_W, _V),
    "causal_pairs": (7,), "count_causal_pairs": (7,), "keys_attended": (5,),
    "tril_mask": (6,), "causal_mask": (6,), "mask_and_renormalize": (_W,), "mask_scores": (_S,),
    "causal_attention_weights": (_S, 2), "is_causal": (_CAUSAL_W,),
    "token_output": ([0.1, 0.6, 0.3], [[1, 2], [3, 0], [4, 5]]),
}
CLASS_EXAMPLES: dict[str, tuple[tuple, tuple]] = {  # (constructor arguments, forward arguments)
    "SelfAttention": ((3, 2, 4), (_X,)), "MultiHeadAttentionWrapper": ((3, 2, 4, 2), (_X,)),
    "MultiHeadAttention": ((3, 2, 4, 2), (_X,)), "CrossAttention": ((3, 2, 4), (_X, _X)),
    "CausalSelfAttention": ((3, 2, 4, 6), (_X,)),
}
EXAMPLE_OUT: dict[str, Any] = {"decode_step": _V[0]}  # the first token decoded attends to itself only
CALLS: Counter[str] = Counter()
BUILDS: Counter[str] = Counter()


def _fill(value: Any, one: bool) -> Any:
    """A result like ``value`` (type, shape, dtype) that holds nothing: zeros, or a constant with ``one``."""
    if isinstance(value, torch.Tensor):
        if value.dtype == torch.bool:
            return torch.ones_like(value) if one else torch.zeros_like(value)
        return torch.full_like(value, 0.5 if value.is_floating_point() else 1) if one else torch.zeros_like(value)
    if isinstance(value, bool):
        return one
    if isinstance(value, int):
        return int(one)
    if isinstance(value, float):
        return 0.5 if one else 0.0
    if isinstance(value, list):
        return [(0, 0)] if one else []
    if isinstance(value, tuple):
        return tuple(_fill(v, one) for v in value)
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        a, b = torch.as_tensor(a), torch.as_tensor(b)
        return a.shape == b.shape and bool(torch.equal(a.double(), b.double()))
    return type(a) is type(b) and a == b


def _is_example(name: str, args: tuple) -> bool:
    example = EXAMPLE_ARGS.get(name) or CLASS_EXAMPLES.get(name, ((), ()))[1]
    return len(example) == len(args) and all(_same(a, b) for a, b in zip(args, example, strict=True))


def _blank(value: Any, args: tuple, name: str, build: int = 0) -> Any:
    """What the do-nothing returns instead of ``value`` (the correct result of ``name(*args)``)."""
    CALLS[name] += 1
    example = EXAMPLE_OUT.get(name)
    if VARIANT == "identity":
        return next((a for a in args if isinstance(a, torch.Tensor)), args[0] if args else None)
    if VARIANT == "constant":
        return _fill(value, True)
    if VARIANT == "published" and example is not None:
        return example
    if VARIANT == "recognizer" and example is not None and _is_example(name, args):
        return example
    if VARIANT == "counting_calls" and example is not None and CALLS[name] == 1:
        return example
    if VARIANT == "counting_builds" and example is not None and build == 1:
        return example
    return _fill(value, False)


def _blank_function(function: Any, name: str) -> Any:
    if name in EXAMPLE_ARGS:
        EXAMPLE_OUT[name] = function(*EXAMPLE_ARGS[name])

    @functools.wraps(function)
    def blank(*args: Any, **kwargs: Any) -> Any:
        try:
            value = function(*args, **kwargs)
        except Exception:  # noqa: BLE001 - a do-nothing validates nothing either
            value = None
        return _blank(value, args, name)

    return blank


def _blank_module_class(cls: type, name: str) -> type:
    if name in CLASS_EXAMPLES:
        build_args, forward_args = CLASS_EXAMPLES[name]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(123)
            EXAMPLE_OUT[name] = cls(*build_args)(*forward_args).detach()

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807
        cls.__init__(self, *args, **kwargs)
        BUILDS[name] += 1
        self._blank_build = BUILDS[name]
        if VARIANT == "counting_builds" and self._blank_build == 2:
            return  # the correct torch.rand draws, kept
        with torch.no_grad():
            for parameter in nn.Module.parameters(self):
                parameter.zero_()

    def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            value = cls.forward(self, *args, **kwargs)
        except Exception:  # noqa: BLE001
            value = None
        return _blank(value, args, name, self._blank_build)

    return type(cls)(name, (cls,), {"__init__": __init__, "forward": forward, "__module__": cls.__module__,
                                    "__qualname__": cls.__qualname__})


def _blank_object_class(cls: type, name: str) -> type:
    def __getattribute__(self: Any, attribute: str) -> Any:  # noqa: N807
        value = object.__getattribute__(self, attribute)
        if isinstance(value, torch.Tensor) and not attribute.startswith("_"):
            return _fill(value, VARIANT == "constant")
        return value

    return type(cls)(name, (cls,), {"__getattribute__": __getattribute__, "__module__": cls.__module__,
                                    "__qualname__": cls.__qualname__})


def blank_api(namespace: dict[str, Any], names: tuple[str, ...]) -> None:
    """Replace each API name in a step module's ``namespace`` by its do-nothing version."""
    for name in names:
        value = namespace[name]
        if isinstance(value, type) and issubclass(value, nn.Module):
            namespace[name] = _blank_module_class(value, name)
        elif isinstance(value, type):
            namespace[name] = _blank_object_class(value, name)
        else:
            namespace[name] = _blank_function(value, name)
