"""Test cells: a step's points over a few nbgrader test cells, and each cell's source.

nbgrader grades a cell all or nothing, so `split_tests` spreads a step's checks (public and
hidden, by weight) over a few cells for partial credit; `test_cell_source` writes one cell: the
public checks through ``course_notebook.check`` and, between nbgrader's hidden-test markers, the
hidden ones through `autograder.hidden.notebook.run_hidden`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from autograder.notebook_ids import test_id

from .source import BuildError

POINT_STEP = 0.5  # test cells are worth multiples of half a point
MAX_LINE = 100  # generated code lines in notebooks



@dataclass(frozen=True)
class TestCell:
    grade_id: str
    step: str
    index: int  # 1-based
    count: int
    points: float
    public: tuple[str, ...]
    hidden: tuple[str, ...]


def _contiguous_groups(weights: Sequence[float], count: int) -> list[tuple[int, int]]:
    """Split ``range(len(weights))`` into ``count`` non-empty contiguous ranges of balanced weight."""
    n = len(weights)
    count = max(1, min(count, n))
    total = sum(weights)
    best: tuple[float, list[tuple[int, int]]] | None = None

    def search(start: int, left: int, acc: list[tuple[int, int]]) -> None:
        nonlocal best
        if left == 1:
            groups = [*acc, (start, n)]
            cost = sum((sum(weights[a:b]) - total / count) ** 2 for a, b in groups)
            if best is None or cost < best[0] - 1e-12:
                best = (cost, groups)
            return
        for end in range(start + 1, n - left + 2):
            search(end, left - 1, [*acc, (start, end)])

    search(0, count, [])
    assert best is not None
    return best[1]


def _share(points: float, weights: Sequence[float]) -> list[float]:
    """``points`` over ``weights`` in multiples of `POINT_STEP` (largest remainder), each >= one step."""
    units = round(points / POINT_STEP)
    if units < len(weights):
        raise BuildError(f"{points} points cannot be split over {len(weights)} test cells")
    total = sum(weights) or 1.0
    raw = [units * w / total for w in weights]
    given = [max(1, int(r)) for r in raw]
    while sum(given) > units:
        i = max((i for i in range(len(given)) if given[i] > 1), key=lambda i: given[i] - raw[i])
        given[i] -= 1
    while sum(given) < units:
        i = max(range(len(given)), key=lambda i: raw[i] - given[i])
        given[i] += 1
    return [g * POINT_STEP for g in given]


def split_tests(
    step_id: str, points: float, public: Sequence[str], hidden: Sequence[tuple[str, float]]
) -> list[TestCell]:
    """The test cells of one step: ``points`` split by the hidden checks' weights.

    Two cells for up to 8 points, three above (fewer when there are fewer checks). The hidden
    checks are cut into contiguous groups of balanced weight and the public checks into groups
    of balanced size, group i of each going to cell i.
    """
    count = 2 if points <= 8 else 3
    if hidden:
        weights = [w for _, w in hidden]
        groups = _contiguous_groups(weights, count)
        count = len(groups)
        cell_weights = [sum(weights[a:b]) for a, b in groups]
        hidden_groups = [tuple(name for name, _ in hidden[a:b]) for a, b in groups]
    else:
        count = max(1, min(count, len(public)))
        hidden_groups = [()] * count
        cell_weights = []
    public_ranges = _contiguous_groups([1.0] * len(public), count) if public else []
    public_groups = [tuple(public[a:b]) for a, b in public_ranges] + [()] * (count - len(public_ranges))
    if not cell_weights:
        cell_weights = [float(max(1, len(g))) for g in public_groups]
    shares = _share(points, cell_weights)
    return [
        TestCell(test_id(step_id, i), step_id, i, count, shares[i - 1], public_groups[i - 1], hidden_groups[i - 1])
        for i in range(1, count + 1)
    ]


def _call(function: str, args: Sequence[str], indent: str = "") -> str:
    """``function(a, b, ...)`` on one line, or one argument per line when too long."""
    one = f"{indent}{function}({', '.join(args)})"
    if len(one) <= MAX_LINE:
        return one
    inner = "".join(f"{indent}    {a},\n" for a in args)
    return f"{indent}{function}(\n{inner}{indent})"


def test_cell_source(cell: TestCell, number: int) -> str:
    what = f"Step {number} ({cell.step}), test {cell.index} of {cell.count}: {points_text(cell.points)}."
    lines = [f"# {what}"]
    if cell.public:  # while grading, the public checks run on the grader's stand-ins for earlier steps
        lines += ["### BEGIN HIDDEN TESTS",
                  "from autograder.hidden.notebook import standins_for_public_checks",
                  "standins_for_public_checks()",
                  "### END HIDDEN TESTS",
                  "from course_notebook import check",
                  _call("check", [quoted(cell.step), "globals()", *map(quoted, cell.public)])]
    else:
        lines.append("# This cell has no public check: its tests run when your work is graded.")
    if cell.hidden:
        lines += [
            "### BEGIN HIDDEN TESTS",
            "from autograder.hidden.notebook import run_hidden",
            _call("run_hidden", [quoted(cell.step), "globals()", f"check=[{', '.join(map(quoted, cell.hidden))}]"]),
            "### END HIDDEN TESTS",
        ]
    return "\n".join(lines)


def quoted(text: str) -> str:
    """A string literal in double quotes, as the project writes them."""
    return json.dumps(text)


def points_text(points: float) -> str:
    value = f"{points:g}"
    return f"{value} point" if points == 1 else f"{value} points"
