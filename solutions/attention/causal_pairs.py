"""Step 10: which query-key pairs causal attention computes.

A language model generates text one token at a time, so when it processes token ``i`` it must
not look at the tokens after it. Causal (masked) self-attention therefore lets the query of
position ``i`` attend only to the keys of positions ``j <= i``: position 0 sees itself, position
1 sees positions 0 and 1, and so on. Counting the pairs shows what this costs: for a sequence of
``T`` tokens there are 1 + 2 + ... + T = T (T + 1) / 2 query-key dot products (28 for T = 7),
about half of the T² that full self-attention computes.
"""

import operator


def _as_length(value: int, name: str) -> int:
    """``value`` as a Python ``int``, for the integer arguments of this step.

    Accepts what ``operator.index`` accepts (``int``, NumPy integers, ...) except ``bool``.
    Anything else, or a negative number, raises ``ValueError`` naming ``name``.

    Optional: a helper for the three functions below, not graded on its own (only ``causal_pairs``,
    ``count_causal_pairs`` and ``keys_attended`` are). Implement it and use it there, or check
    their arguments your own way.
    """
    ### BEGIN SOLUTION
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, not a bool ({value!r})")
    try:
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}") from None
    if number < 0:
        raise ValueError(f"{name} must be non-negative, got {number}")
    return number
    ### END SOLUTION


def causal_pairs(seq_len: int) -> list[tuple[int, int]]:
    """Every pair ``(i, j)`` with ``0 <= j <= i < seq_len``: query ``i`` compared with key ``j``.

    Ordered by ``i``, then ``j``: ``causal_pairs(3)`` is
    ``[(0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2)]``. A negative or non-integer ``seq_len``
    raises ``ValueError``.
    """
    ### BEGIN SOLUTION
    n = _as_length(seq_len, "seq_len")
    return [(i, j) for i in range(n) for j in range(i + 1)]
    ### END SOLUTION


def count_causal_pairs(seq_len: int) -> int:
    """How many query-key dot products causal attention computes for ``seq_len`` tokens.

    Equal to ``len(causal_pairs(seq_len))`` but computed in closed form, instantly even for
    ``seq_len = 10**9``. A negative or non-integer ``seq_len`` raises ``ValueError``.

    Hint: add up how many keys each position is compared against.
    """
    ### BEGIN SOLUTION
    n = _as_length(seq_len, "seq_len")
    return n * (n + 1) // 2
    ### END SOLUTION


def keys_attended(position: int) -> int:
    """How many key vectors the query at ``position`` (0-based) is compared against.

    ``keys_attended(5) == 6``: positions 0 to 5. A negative or non-integer ``position``
    raises ``ValueError``.
    """
    ### BEGIN SOLUTION
    return _as_length(position, "position") + 1
    ### END SOLUTION
