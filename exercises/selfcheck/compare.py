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
    mistakes: Mapping[str, torch.Tensor] | None = None,
    reveal: bool = False,
    dtype: torch.dtype | str | None = "floating",
) -> torch.Tensor:
    """Fail unless ``actual`` is a tensor equal to ``expected`` within tolerance.

    ``mistakes`` maps a description of a common mistake ("softmax over the wrong dimension") to
    what that mistake would produce; a wrong result matching one is named in the message.
    """
    recognised = _recognise(actual, mistakes)
    if not isinstance(actual, torch.Tensor) or tuple(actual.shape) != tuple(expected.shape):
        try:
            expect_tensor(actual, what, shape=tuple(expected.shape))
        except CheckFailed as failure:
            raise CheckFailed(_with_mistake(str(failure), recognised)) from None
    actual = expect_tensor(actual, what, dtype=dtype)
    if close_enough(actual, expected, rtol=rtol, atol=atol):
        return actual
    message = f"{what}: {_describe_difference(actual, expected, rtol, atol)}"
    if reveal:
        message += f"\n  expected: {_format_tensor(expected)}\n  got:      {_format_tensor(actual)}"
    raise CheckFailed(_with_mistake(message, recognised))


def _recognise(actual: Any, mistakes: Mapping[str, torch.Tensor] | None) -> str | None:
    if not mistakes or not isinstance(actual, torch.Tensor):
        return None
    for description, produced in mistakes.items():
        try:
            if produced is not None and close_enough(actual, produced):
                return description
        except RuntimeError:
            continue
    return None


def _with_mistake(message: str, mistake: str | None) -> str:
    return message if mistake is None else f"{message}\n  This looks like a common mistake: {mistake}."


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
            raise CheckFailed(f"{what} raised {error.type_name}, but its message should name {mentions!r}") from None
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
        raise CheckFailed(f"{what} should be an object, but it is {describe_value(value)}")
    if base is not None and not value.has_base_named(base):
        raise CheckFailed(f"{what} should be a {base}, but it is a {value.type_name}")
    return value
