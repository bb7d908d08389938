# Sample submission `complete_einsum` (correct): step 10 with explicit loops for the pairs and
# the closed form for the count; full marks.
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
    pairs = []
    for i in range(n):
        for j in range(i + 1):  # query i sees keys 0..i
            pairs.append((i, j))
    return pairs


def count_causal_pairs(seq_len):
    n = _whole_number(seq_len, "seq_len")
    return n * (n + 1) // 2  # 1 + 2 + ... + n


def keys_attended(position):
    return _whole_number(position, "position") + 1
