# Sample submission `partial_mistakes`, step 10. The pairs and keys_attended are right. PLANTED
# MISTAKES: count_causal_pairs adds the numbers up in a Python loop instead of using the closed
# form n (n + 1) / 2 (the grader times it and asks for a closed form; its call for 10**9 runs out
# of time, so the step's later checks are not run), and the integer checks forget that bool is a
# subclass of int, so True and False are accepted (pytest says so).
"""Step 10: which query-key pairs causal attention computes."""

import operator


def _check(n):
    n = operator.index(n)  # floats and strings raise TypeError; but True and False slip through
    if n < 0:
        raise ValueError(f"expected a non-negative integer, got {n}")
    return n


def causal_pairs(seq_len):
    n = _check(seq_len)
    return [(i, j) for i in range(n) for j in range(i + 1)]


def count_causal_pairs(seq_len):
    n = _check(seq_len)
    total = 0
    for i in range(n):
        total += i + 1
    return total


def keys_attended(position):
    return _check(position) + 1
