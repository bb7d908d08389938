# Sample submission `broken`, step 10. BREAKS: a quick experiment left at the bottom of the module
# never ends (`n` is never incremented), so importing the module hangs. The grader stops it after the
# course's per-call time limit (limits.call_seconds in course.yml), says so, and gives this step 0.
"""Step 10: which query-key pairs causal attention computes."""

import operator


def _whole_number(value, name):
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, not a bool")
    try:
        value = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return value


def causal_pairs(seq_len):
    n = _whole_number(seq_len, "seq_len")
    return [(i, j) for i in range(n) for j in range(i + 1)]


def count_causal_pairs(seq_len):
    n = _whole_number(seq_len, "seq_len")
    return n * (n + 1) // 2


def keys_attended(position):
    return _whole_number(position, "position") + 1


# How long a sequence fits in 1000 dot products?
n = 1
while count_causal_pairs(n) <= 1000:
    longest = n  # forgot `n += 1`: this loop never ends
