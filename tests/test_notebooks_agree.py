"""The notebooks agree with the package and the README, and their questions have one answer.

- A notebook that uses an earlier step finds it where the learner wrote it: the earlier notebook
  or ``attention/<module>.py``, and says where it looked (`course_notebook.from_notebook`).
- A step's points in a notebook's "Check step" header are the README's, and the README says why
  the code's share is smaller where a step has concept questions.
- The code cells before a step's "Your turn" do not show that step's answer.
- Every concept question has exactly one answer that fits its own statement (checked by
  computing it), and blocked cells of the pictures are drawn as blocked, not as the strongest value.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from autograder.course import load_course
from autograder.course_cli import markdown_table
from autograder.hidden.questions import QUESTIONS, questions_of
from autograder.markers import solution_regions
from selfcheck.steps import STEPS

REPO_ROOT = Path(__file__).resolve().parents[1]
EXERCISES = REPO_ROOT / "exercises"
SOLUTIONS = REPO_ROOT / "solutions"
SOURCES = SOLUTIONS / "notebooks" / "src"
COURSE = load_course()


def _cells(notebook: Path) -> list[dict]:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        source = cell["source"]
        cell["text"] = "".join(source) if isinstance(source, list) else source
    return cells


# ---------------------------------------------------------------------------------------
# Earlier steps, from the notebook or the package
# ---------------------------------------------------------------------------------------


def _run_in_learner_folder(folder: Path, code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NBGRADER_EXECUTION")}
    env["MPLBACKEND"] = "Agg"
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=folder / "notebooks", env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def learner_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of ``exercises/`` (stubs and learner notebooks) where only attention/weights.py is written."""
    folder = tmp_path_factory.mktemp("learner") / "attention-course"
    shutil.copytree(EXERCISES, folder, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    shutil.copy(SOLUTIONS / "attention" / "weights.py", folder / "attention" / "weights.py")
    return folder


def test_an_earlier_step_written_in_the_package_is_found(learner_folder: Path) -> None:
    """Step 5 in attention/weights.py, its notebook untouched: notebook 10 uses the package's version."""
    done = _run_in_learner_folder(learner_folder, """
        import torch
        from course_notebook import from_notebook
        attention_weights = from_notebook("05_weights", "attention_weights")
        print(attention_weights(torch.zeros(2, 2), 4).tolist())
        causal_mask = from_notebook("10_causal_mask", "causal_mask")
        try:
            causal_mask(3)
        except NotImplementedError as error:
            print("raised:", error)
    """)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "`attention_weights` (step 5): from attention/weights.py", lines
    assert lines[1] == "[[0.5, 0.5], [0.5, 0.5]]"
    looked = "looked in 10_causal_mask.ipynb: still the stub; attention/causal_mask.py: still the stub"
    assert lines[2] == f"`causal_mask` (step 11): not implemented yet: {looked}", lines
    assert lines[3] == f"raised: causal_mask: causal_mask is not implemented yet ({looked})", lines


def test_a_notebook_step_passes_on_an_earlier_step_from_the_package(learner_folder: Path) -> None:
    """The issue's case: notebook 10's loading cell, then step 11 solved in the notebook, step 5 only in
    attention/weights.py. Step 11's public checks pass (they said "step 5 is not implemented yet")."""
    solved = {c["metadata"]["nbgrader"]["grade_id"]: c["text"] for c in _cells(SOLUTIONS / "notebooks" /
              "10_causal_mask.ipynb") if c.get("metadata", {}).get("nbgrader")}
    learner = {c["metadata"]["nbgrader"]["grade_id"]: c["text"] for c in _cells(EXERCISES / "notebooks" /
               "10_causal_mask.ipynb") if c.get("metadata", {}).get("nbgrader")}
    code = "\n\n".join([learner["causal_mask_earlier"], solved["causal_mask_answer"],
                         "from selfcheck.public import PUBLIC",
                         "check('causal_mask', globals(), *[c.name for c in PUBLIC.for_step('causal_mask')])"])
    done = _run_in_learner_folder(learner_folder, "from course_notebook import check\n" + code)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("`attention_weights` (step 5): from attention/weights.py\n"), done.stdout
    assert "✗" not in done.stdout and done.stdout.count("✓") >= 2, done.stdout


def test_the_loading_cells_say_where_they_look() -> None:
    for notebook in sorted((EXERCISES / "notebooks").glob("*.ipynb")):
        for cell in _cells(notebook):
            if "from_notebook(" in cell["text"] and cell["cell_type"] == "markdown":
                pytest.fail(f"{notebook.name}: markdown calls from_notebook")
            if cell["cell_type"] == "markdown" and cell["text"].startswith("## Your turn") and "Your code uses" in (
                    cell["text"]):
                assert "`attention/`" in cell["text"], (notebook.name, cell["text"])


# ---------------------------------------------------------------------------------------
# Points: the notebook headers and the README
# ---------------------------------------------------------------------------------------


def test_notebook_points_are_the_readmes_or_say_why() -> None:
    headers: dict[int, str] = {}
    for notebook in sorted((EXERCISES / "notebooks").glob("*.ipynb")):
        for cell in _cells(notebook):
            match = re.match(r"### Check step (\d+) \((.*?)\)\n", cell["text"])
            if cell["cell_type"] == "markdown" and match:
                headers[int(match.group(1))] = match.group(2)
    assert sorted(headers) == [step.number for step in STEPS]
    table = markdown_table(COURSE)
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert table in readme
    for number, step in enumerate(COURSE.steps, start=1):
        asked = questions_of(step.id)
        if not asked:
            assert headers[number] == f"{step.points:g} points", (number, headers[number])
            continue
        code = step.points - sum(q.points for q in asked)
        assert headers[number].startswith(f"{code:g} of the step's {step.points:g} points; "), headers[number]
        assert f"the other {step.points - code:g}" in headers[number]
        assert f"step {number}: {code:g} + {step.points - code:g}" in table  # the README says why


# ---------------------------------------------------------------------------------------
# The demo cells before "Your turn" do not show the answer
# ---------------------------------------------------------------------------------------


class _Names(ast.NodeTransformer):
    """Variable names replaced by their order of appearance, so ``kept / kept.sum()`` is ``masked / masked.sum()``."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id in ("torch", "F", "nn", "self"):
            return node
        return ast.Name(self.seen.setdefault(node.id, f"v{len(self.seen)}"), node.ctx)


def _shapes(expression: ast.expr) -> tuple[str, str, int]:
    """(the expression as written, with its variables renamed, its size in AST nodes)."""
    renamed = _Names().visit(copy.deepcopy(expression))
    return ast.unparse(expression), ast.unparse(renamed), sum(1 for _ in ast.walk(expression))


def _answer_expressions(module: str) -> list[tuple[str, str, int]]:
    """The values a step's solution computes: each return value and assigned value in its solution regions."""
    source = (SOLUTIONS / "attention" / f"{module}.py").read_text(encoding="utf-8")
    lines = {n for region in solution_regions(source) for n in range(region.begin, region.end)}
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Return, ast.Assign)) and node.lineno in lines and node.value is not None:
            if isinstance(node.value, (ast.BinOp, ast.Call)):
                found.append(_shapes(node.value))
    return found


def _demo_expressions(code: str) -> set[tuple[str, str]]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    return {_shapes(node)[:2] for node in ast.walk(tree) if isinstance(node, ast.expr)}


def _shows(demo: set[tuple[str, str]], answer: tuple[str, str, int]) -> bool:
    written, renamed, size = answer
    return any(written == d or (size >= 8 and renamed == r) for d, r in demo)


def test_demo_cells_do_not_show_the_answer() -> None:
    """The code cells of a step's section, before its "Your turn", compute nothing the step's answer computes.

    "The same" is the expression as written, or, for a larger one (8 AST nodes or more), up to the names of
    its variables: ``weights @ values`` and ``kept / kept.sum(dim=-1, keepdim=True)`` are both answers.
    """
    by_number = {step.number: step for step in STEPS}
    shown = []
    for notebook in sorted((EXERCISES / "notebooks").glob("*.ipynb")):
        demo: list[str] = []
        for cell in _cells(notebook):
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
            match = re.match(r"## Your turn: step (\d+)", cell["text"])
            if cell["cell_type"] == "markdown" and match:
                step = by_number[int(match.group(1))]
                expressions = set().union(*map(_demo_expressions, demo)) if demo else set()
                for answer in _answer_expressions(step.module):
                    if _shows(expressions, answer):
                        shown.append(f"{notebook.name}, before step {step.number}: `{answer[0]}`")
                demo = []
            elif cell["cell_type"] == "code" and not grade_id:
                demo.append(cell["text"])
            elif grade_id:
                demo = []
    assert not shown, "\n".join(shown)


def test_the_demo_check_finds_a_shown_answer() -> None:
    """The rule above catches the old notebooks' cells (so the test can fail)."""
    answers = _answer_expressions("context") + _answer_expressions("causal_mask")
    old_context = "heatmap(weights @ values, TOKENS, dims)"
    old_mask = "kept = weights * torch.ones(6, 6).tril()\nrenormalized = kept / kept.sum(dim=-1, keepdim=True)"
    assert any(_shows(_demo_expressions(old_context), a) for a in answers)
    assert any(_shows(_demo_expressions(old_mask), a) for a in answers)
    assert not any(_shows(_demo_expressions("batch = keys @ queries\nx @ W_query"), a) for a in answers)


# ---------------------------------------------------------------------------------------
# Concept questions: one defensible answer each
# ---------------------------------------------------------------------------------------


def _prompt(notebook: str, question: str) -> str:
    """The markdown just before ``# %% [question] <question>`` in the notebook's source."""
    source = (SOURCES / f"{notebook}.py").read_text(encoding="utf-8")
    before = source.split(f"# %% [question] {question}\n", 1)[0]
    return before.rsplit("# %% [markdown]\n", 1)[1]


def _candidates() -> dict[str, torch.Tensor]:
    """The four score matrices of notebook 10's question, as its plot cell builds them."""
    source = (SOURCES / "10_causal_mask.py").read_text(encoding="utf-8")
    cell = next(c for c in source.split("# %%") if "candidates = {" in c)
    code = cell.split("\n", 1)[1].split("\nfig,", 1)[0]
    namespace: dict = {"torch": torch}
    exec(code, namespace)  # noqa: S102 - the project's own notebook source
    return namespace["candidates"]


def test_one_score_matrix_violates_causality_however_it_is_read() -> None:
    """As scores (a finite entry above the diagonal), after the softmax (a weight above it), and by the
    rule of `is_causal` (neither 0 nor -inf above it): the same single matrix, the key."""
    key = QUESTIONS["non_causal_matrix"].answer
    candidates = _candidates()
    assert len(candidates) == 4
    as_scores, as_weights, by_is_causal = set(), set(), set()
    for letter, scores in candidates.items():
        above = torch.ones_like(scores, dtype=torch.bool).triu(diagonal=1)
        assert not torch.isneginf(scores).all(dim=-1).any(), f"{letter}: a row without any key gives NaN"
        if torch.isfinite(scores[above]).any():
            as_scores.add(letter)
        if (torch.softmax(scores, dim=-1)[above] > 0).any():
            as_weights.add(letter)
        if not ((scores[above] == 0) | torch.isneginf(scores[above])).all():
            by_is_causal.add(letter)
    assert as_scores == as_weights == by_is_causal == {key}, (as_scores, as_weights, by_is_causal)
    prompt = _prompt("10_causal_mask", "non_causal_matrix")
    assert "$0$\n# included" in prompt or "0 included" in prompt.replace("$", "").replace("\n# ", " ")


def test_the_counting_questions_fix_what_they_count() -> None:
    """The sequence length and whether the query's own key counts are stated; the key is what causal masking
    computes (an answer that counts the masked-out dot products, or leaves the own key out, is not defensible)."""
    prompt = _prompt("09_causal_pairs", "keys_for_query_5").replace("\n# ", " ")
    assert "8 tokens" in prompt and "its own key included" in prompt and "position 5" in prompt
    assert QUESTIONS["keys_for_query_5"].answer == int(torch.ones(8, 8).tril()[5].sum())

    prompt = _prompt("11_causal_attention_and_kv_cache", "positions_for_query_4").replace("\n# ", " ")
    assert "six tokens" in prompt and "its own included" in prompt and "position 4" in prompt
    allowed = torch.ones(6, 6).tril()[4].nonzero().flatten().tolist()
    assert QUESTIONS["positions_for_query_4"].answer == allowed


def test_the_mask_term_question_has_one_right_choice() -> None:
    prompt = " ".join(line.removeprefix("#").strip() for line in _prompt("10_causal_mask", "mask_term").splitlines())
    choices = dict(re.findall(r"- \*\*([A-D])\.\*\* (.*?)(?= - \*\*[A-D]\.\*\*|$)", prompt))
    assert sorted(choices) == ["A", "B", "C", "D"], choices
    key = QUESTIONS["mask_term"].answer
    right = [letter for letter, text in choices.items()
             if "adds $-\\infty$ to the scores" in text and "0 to the others" in text and "sums to 1" in text]
    assert right == [key], choices


def test_blocked_cells_are_drawn_as_blocked(tmp_path: Path) -> None:
    """-inf and NaN cells are off the colour scale (masked, hatched grey) and a legend names them."""
    import matplotlib

    matplotlib.use("Agg")
    sys.path.insert(0, str(SOLUTIONS / "notebooks"))
    try:
        import course_notebook
    finally:
        sys.path.remove(str(SOLUTIONS / "notebooks"))
    scores = torch.tensor([[1.0, float("-inf")], [0.5, 2.0]])
    ax = course_notebook.heatmap(scores, ["a", "b"], ["a", "b"])
    image = ax.get_images()[0]
    data = image.get_array()
    assert bool(data.mask[0, 1]) and not data.mask[1, 1]  # off the colour scale
    top = image.cmap(1.0)
    hatched = [p for p in ax.patches if p.get_hatch()]
    assert len(hatched) == 1 and tuple(hatched[0].get_facecolor()) != tuple(top)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["-inf: blocked"]
    assert image.cmap.get_bad().tolist() != list(top)
