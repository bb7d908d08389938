"""Assertions with messages a learner can act on.

Every helper raises `CheckFailed` with a message that says what was checked and how the result
was wrong (type, shape, dtype, values, a property). Hidden checks leave ``reveal`` off, so the
message never shows hidden inputs or expected values; public checks about the course's
published facts turn it on.

Tolerances: floating results are compared in float64 with ``rtol=1e-4, atol=1e-5`` unless a
check states others, so float32, float64-inside, einsum and manual-softmax solutions all pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from .errors import CheckFailed, LearnerError, NotImplementedYet
from .mistakes import AMBIGUOUS_PREFIX, HEADS_LIST, MISTAKE_PREFIX, recognise, with_mistake
from .subject import Handle, Subject, describe_value

RTOL = 1e-4
ATOL = 1e-5


def expect_tensor(
    value: Any,
    what: str,
    *,
    shape: tuple[int, ...] | None = None,
    dtype: torch.dtype | str | None = None,
) -> torch.Tensor:
    """Fail unless ``value`` is a tensor (of ``shape``; of ``dtype``, or ``"floating"``)."""
    if not isinstance(value, torch.Tensor):
        raise CheckFailed(f"{what} should be a torch.Tensor, but it is {describe_value(value)}")
    returned_type = getattr(value, "_returned_type", None)
    if returned_type is not None:
        raise CheckFailed(f"{what} should be a plain torch.Tensor, not a {returned_type}")
    if shape is not None and tuple(value.shape) != tuple(shape):
        hint = _shape_hint(value.shape, shape)
        raise CheckFailed(f"{what} has shape {tuple(value.shape)}, expected {tuple(shape)}{hint}")
    if dtype == "floating":
        if not value.is_floating_point():
            raise CheckFailed(f"{what} has dtype {value.dtype}, expected a floating dtype")
    elif dtype is not None and value.dtype != dtype:
        raise CheckFailed(f"{what} has dtype {value.dtype}, expected {dtype}")
    return value


def _shape_hint(actual: tuple[int, ...], expected: tuple[int, ...]) -> str:
    actual, expected = tuple(actual), tuple(expected)
    if len(actual) == len(expected) >= 2 and actual[:-2] + (actual[-1], actual[-2]) == expected:
        return " (the last two dimensions are swapped: a missing or extra transpose?)"
    if len(actual) < len(expected) and expected[len(expected) - len(actual):] == actual:
        return " (leading batch dimensions were lost)"
    if len(actual) > len(expected) and actual[len(actual) - len(expected):] == expected:
        return " (extra leading dimensions)"
    return ""


def close_enough(actual: torch.Tensor, expected: torch.Tensor, *, rtol: float = RTOL, atol: float = ATOL) -> bool:
    """Same shape and values within tolerance; infinities must match exactly, NaN never matches."""
    if tuple(actual.shape) != tuple(expected.shape):
        return False
    a = actual.detach().to(torch.float64)
    e = expected.detach().to(torch.float64)
    return bool(torch.isclose(a, e, rtol=rtol, atol=atol).all())


def expect_close(
    actual: Any,
    expected: torch.Tensor,
    what: str,
    *,
    rtol: float = RTOL,
    atol: float = ATOL,
    mistakes: Mapping[str, torch.Tensor | None] | None = None,
    reveal: bool = False,
    dtype: torch.dtype | str | None = "floating",
) -> torch.Tensor:
    """Fail unless ``actual`` is a tensor equal to ``expected`` within tolerance.

    ``mistakes`` maps a description of a common mistake (`selfcheck.mistakes`) to what that
    mistake would produce on these inputs. A wrong result matching exactly one of them (NaN
    matching NaN) is named; one matching several, which these inputs cannot tell apart, lists
    them all as candidates; a mistake that gives the right result here is never named.
    ``reveal`` (public inputs only) shows expected and actual values: all of them when the
    tensor is small, else a few of the entries that differ.
    """
    found = recognise(actual, mistakes, expected, rtol=rtol, atol=atol)
    if not isinstance(actual, torch.Tensor) or tuple(actual.shape) != tuple(expected.shape):
        try:
            expect_tensor(actual, what, shape=tuple(expected.shape))
        except CheckFailed as failure:
            raise CheckFailed(with_mistake(str(failure), found)) from None
    actual = expect_tensor(actual, what, dtype=dtype)
    if close_enough(actual, expected, rtol=rtol, atol=atol):
        return actual
    message = f"{what}: {_describe_difference(actual, expected, rtol, atol)}"
    if reveal:
        message += _show_values(actual, expected, rtol, atol)
    raise CheckFailed(with_mistake(message, found))


def _show_values(actual: torch.Tensor, expected: torch.Tensor, rtol: float, atol: float) -> str:
    if expected.numel() <= 64:
        return f"\n  expected: {_format_tensor(expected)}\n  got:      {_format_tensor(actual)}"
    a, e = actual.detach().to(torch.float64), expected.detach().to(torch.float64)
    bad = (~torch.isclose(a, e, rtol=rtol, atol=atol)).nonzero().tolist()[:3]
    lines = "".join(f"\n    at {list(index)}: expected {float(e[tuple(index)]):.6g}, got {float(a[tuple(index)]):.6g}"
                    for index in bad)
    return f"\n  a few of the entries that differ:{lines}"


def _describe_difference(actual: torch.Tensor, expected: torch.Tensor, rtol: float, atol: float) -> str:
    a = actual.detach().to(torch.float64)
    e = expected.detach().to(torch.float64)
    if torch.isnan(a).any() and not torch.isnan(e).any():
        return f"contains NaN in {int(torch.isnan(a).sum())} of {a.numel()} entries"
    bad = ~torch.isclose(a, e, rtol=rtol, atol=atol)
    inf_mismatch = (torch.isinf(a) | torch.isinf(e)) & bad
    if inf_mismatch.any():
        return (
            f"{int(inf_mismatch.sum())} of {a.numel()} entries disagree about being infinite "
            "(-inf where a finite value belongs, or the reverse)"
        )
    finite = bad & torch.isfinite(a) & torch.isfinite(e)
    largest = float((a - e).abs()[finite].max()) if finite.any() else float("nan")
    return (
        f"{int(bad.sum())} of {a.numel()} values differ from the correct result "
        f"(largest difference {largest:.3g}; tolerance rtol={rtol:g}, atol={atol:g})"
    )


def _format_tensor(value: torch.Tensor) -> str:
    if value.numel() > 64:
        return f"tensor of shape {tuple(value.shape)}"
    return str(_six_digits(value.detach().tolist()))


def _six_digits(value: Any) -> Any:
    """Floats to 6 significant digits (0.3374, not float32's 0.33739998936653137); finer than any tolerance."""
    if isinstance(value, list):
        return [_six_digits(v) for v in value]
    return float(f"{value:.6g}") if isinstance(value, float) else value


def expect_equal(actual: Any, expected: Any, what: str, *, reveal: bool = False) -> None:
    """Fail unless ``actual == expected`` with the same type (plain data: ints, lists, dicts...)."""
    if type(actual) is not type(expected):
        raise CheckFailed(f"{what} should be a {type(expected).__name__}, but it is {describe_value(actual)}")
    if actual != expected:
        message = f"{what} is not what it should be"
        if reveal:
            message += f"\n  expected: {_short(expected)}\n  got:      {_short(actual)}"
        elif isinstance(expected, (list, tuple, dict)) and len(actual) != len(expected):
            message += f" (it has {len(actual)} items, expected {len(expected)})"
        raise CheckFailed(message)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 400 else text[:380] + " ... (shortened)"


def expect_raises(
    exception: type[BaseException] | tuple[type[BaseException], ...],
    call: Callable[[], Any],
    what: str,
    *,
    mentions: str | None = None,
) -> LearnerError:
    """Fail unless ``call()`` makes learner code raise ``exception`` (mentioning ``mentions``)."""
    names = " or ".join(e.__name__ for e in (exception if isinstance(exception, tuple) else (exception,)))
    try:
        result = call()
    except LearnerError as error:
        if isinstance(error, NotImplementedYet) and not isinstance(error, exception):
            raise  # an unstarted step reads as "not implemented yet", not as the wrong exception
        if not isinstance(error, exception):
            raise CheckFailed(f"{what} should raise {names}, but it raised {error.type_name}") from None
        if mentions is not None and mentions not in error.learner_message:
            raise CheckFailed(f"{what} raised {error.type_name}, but its message does not name {mentions!r}") from None
        return error
    raise CheckFailed(f"{what} should raise {names}, but it returned {describe_value(result)}")


def expect_inputs_unchanged(subject: Subject, what: str) -> None:
    """Fail when the last call into learner code changed a tensor argument in place."""
    record = subject.last_call
    if record is not None and record.modified_args:
        changed = ", ".join(record.modified_args)
        raise CheckFailed(
            f"{what} changed its input in place ({changed}); functions must not modify their "
            "inputs: build a new tensor instead (e.g. no `+=`, `masked_fill_` or slice assignment on inputs)"
        )


def expect_handle(value: Any, what: str, *, base: str | None = None) -> Handle:
    """Fail unless ``value`` is a learner object (optionally with a base class named ``base``)."""
    if not isinstance(value, Handle):
        hint = f" ({HEADS_LIST})" if isinstance(value, (list, tuple)) and base in ("ModuleList", "Module") else ""
        raise CheckFailed(f"{what} should be an object, but it is {describe_value(value)}{hint}")
    if base is not None and not value.has_base_named(base):
        raise CheckFailed(f"{what} should be a {base}, but it is a {value.type_name}")
    return value


# ---------------------------------------------------------------------------------------------
# Parameters and seeded draws (public and hidden checks alike)
# ---------------------------------------------------------------------------------------------


def expect_parameters(module: Any, what: str, shapes: Mapping[str, tuple[int, ...]], *, prefix: str = "",
                      dtype: torch.dtype | None = torch.float32) -> dict[str, torch.Tensor]:
    """The module's parameters named in ``shapes`` (``prefix`` + name), each checked to be there with its shape."""
    from .subject import parameters

    expect_handle(module, what, base="Module")
    found = parameters(module)
    result: dict[str, torch.Tensor] = {}
    for name, shape in shapes.items():
        full = prefix + name
        if full not in found:
            listed = ", ".join(sorted(found)) or "none"
            raise CheckFailed(
                f"{what} should have an nn.Parameter named `{full}` of shape {tuple(shape)} "
                f"(self.{name} = nn.Parameter(torch.rand(...))); its parameters: {listed}"
            )
        value = found[full]
        if tuple(value.shape) != tuple(shape):
            raise CheckFailed(f"{what}: `{full}` has shape {tuple(value.shape)}, expected {tuple(shape)}"
                              f"{_shape_hint(value.shape, shape)}")
        expect_tensor(value, f"{what}: `{full}`", dtype=dtype)
        result[name] = value
    return result


def load_own_weights(module: Any, what: str, shapes: Mapping[str, tuple[int, ...]], generator: torch.Generator, *,
                     prefix: str = "") -> dict[str, torch.Tensor]:
    """Put the checker's own ``torch.rand`` draws into the module's parameters; returns them (float32) by name.

    A forward check computes its expected value from these, never from what the module reports, so a
    module that reports weights matching whatever it returns gains nothing, and a module whose own
    initialisation is wrong is still judged on its forward pass. The parameters must be there with
    ``shapes`` (`expect_parameters`, named ``prefix`` + name).
    """
    from .subject import load_parameters

    expect_parameters(module, what, shapes, prefix=prefix, dtype=None)
    own = {name: torch.rand(*shape, generator=generator) for name, shape in shapes.items()}
    load_parameters(module, {prefix + name: value for name, value in own.items()}, what)
    return own


def expect_draws(got: Mapping[str, Any], seed: int, shapes: Mapping[str, tuple[int, ...]], what: str, *,
                 parameter: bool = True, extra: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
                 expected: Mapping[str, torch.Tensor] | None = None) -> None:
    """Fail unless ``got`` holds what ``torch.manual_seed(seed)`` then ``torch.rand`` per name (in order) draws.

    A wrong draw order, ``torch.randn`` or an ``extra`` mistake (``{description: {name: matrix}}``) is named.
    """
    from .mistakes import draw_mistakes, seeded_draws

    expected = expected if expected is not None else seeded_draws(seed, shapes, tuple(shapes))
    wrong = {**draw_mistakes(seed, shapes), **(extra or {})}
    in_order = ", ".join(shapes)
    for name in shapes:
        value = got.get(name)
        if value is None:
            raise CheckFailed(f"{what}: `{name}` is missing")
        if parameter and isinstance(value, torch.Tensor) and not isinstance(value, torch.nn.Parameter):
            raise CheckFailed(f"{what}: `{name}` should be an nn.Parameter (so that it is trained and saved)")
        mistakes = {description: made.get(name) for description, made in wrong.items()}
        try:
            expect_close(value, expected[name], f"{what}: `{name}`", mistakes=mistakes, atol=1e-6)
        except CheckFailed as failure:
            if MISTAKE_PREFIX in str(failure) or AMBIGUOUS_PREFIX in str(failure):
                raise
            raise CheckFailed(f"{failure}\n  {what}: {name} is not what torch.rand draws after torch.manual_seed: "
                              f"draw {in_order} with torch.rand in that order, and draw nothing else before "
                              "them") from None


# ---------------------------------------------------------------------------------------------
# Exact results: masks, integers, lists of pairs, vocabularies
# ---------------------------------------------------------------------------------------------


def expect_exact(actual: Any, expected: torch.Tensor, what: str, mistakes: Mapping[str, torch.Tensor]) -> None:
    """Exact values first (any dtype), then the dtype: a wrong dtype alone says so."""
    expect_tensor(actual, what, shape=tuple(expected.shape))
    if not torch.equal(actual.double(), expected.double()):
        found = recognise(actual.double(), {k: v.double() for k, v in mistakes.items()}, expected.double(),
                          rtol=0, atol=0)
        raise CheckFailed(with_mistake(f"{what} does not have the right entries", found))
    expect_tensor(actual, what, dtype=expected.dtype)


def expect_int(actual: Any, expected: int, what: str, mistakes: Mapping[str, int] | None = None) -> None:
    """A Python ``int`` equal to ``expected``; a float of the right value and known wrong counts are named."""
    if isinstance(actual, float) and float(expected) == actual:
        raise CheckFailed(f"{what} should be an int, but it is a float: use integer division // for an exact count")
    if type(actual) is not int:
        raise CheckFailed(f"{what} should be a Python int, but it is {describe_value(actual)}")
    if actual != expected:
        raise CheckFailed(with_mistake(f"{what} is not the right number", recognise(actual, mistakes, expected)))


def expect_pairs(actual: Any, expected: list[tuple[int, int]], what: str,
                 mistakes: Mapping[str, list[tuple[int, int]]]) -> None:
    """A list of ``(i, j)`` tuples of ints equal to ``expected``; a known wrong list is named."""
    if not isinstance(actual, list):
        raise CheckFailed(f"{what} should be a list of (i, j) tuples, but it is {describe_value(actual)}")
    if any(type(p) is not tuple or len(p) != 2 or any(type(v) is not int for v in p) for p in actual):
        raise CheckFailed(f"{what} should hold (i, j) tuples of two Python ints (found other items)")
    if actual == expected:
        return
    if len(actual) == len(expected):
        how = "it has the right number of pairs, but not the right pairs in the right order"
    else:
        how = f"it has {'more' if len(actual) > len(expected) else 'fewer'} pairs than it should"
    raise CheckFailed(with_mistake(f"{what} is not the right list: {how}", recognise(actual, mistakes, expected)))


def expect_vocab(actual: Any, expected: dict[str, int], what: str, mistakes: Mapping[str, dict[str, int]]) -> None:
    """A dict of str words to int ids equal to ``expected``; a known wrong vocabulary is named."""
    if not isinstance(actual, dict):
        raise CheckFailed(f"{what} should be a dict mapping words to ids, but it is {describe_value(actual)}")
    if any(not isinstance(k, str) for k in actual) or any(type(v) is not int for v in actual.values()):
        raise CheckFailed(f"{what} should map str words to Python int ids (found other key or value types)")
    if actual == expected:
        return
    missing = len(set(expected) - set(actual))
    extra = len(set(actual) - set(expected))
    wrong = sum(1 for k, v in expected.items() if k in actual and actual[k] != v)
    message = (f"{what} is not the right vocabulary: {missing} word(s) missing, {extra} unexpected key(s), "
               f"{wrong} word(s) with a wrong id (out of {len(expected)} distinct words)")
    raise CheckFailed(with_mistake(message, recognise(actual, mistakes, expected)))


def expect_bool(value: Any, what: str) -> bool:
    """A Python ``bool`` (a 0-d tensor is not one)."""
    if type(value) is not bool:
        hint = (f"a tensor of shape {tuple(value.shape)} (use bool(...) or .item())"
                if isinstance(value, torch.Tensor) else describe_value(value))
        raise CheckFailed(f"{what} should return a Python bool (True or False), not {hint}")
    return value
