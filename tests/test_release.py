"""``python -m autograder release``: learner stubs, the sync check, the leak check, marker rules,
and the rules for the solution modules themselves (earlier-step imports only, no forbidden APIs)."""

from __future__ import annotations

import ast
import inspect
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import EXERCISES, REPO_ROOT, import_attention

from autograder.build.generate import check_release, find_leaks, remove_stale, write_release
from autograder.build.layout import Layout
from autograder.build.leaks import significant_solution_lines
from autograder.build.steps_table import render_steps_module
from autograder.build.stubs import make_stub
from autograder.course import load_course
from autograder.markers import BEGIN_SOLUTION, END_SOLUTION, MarkerError, not_implemented_message, solution_regions

COURSE = load_course()
STEPS = [(step.id, step.module) for step in COURSE.steps]
STEP_IDS = [step_id for step_id, _ in STEPS]
SOLUTION_PACKAGE = REPO_ROOT / "solutions" / "attention"
FORBIDDEN_APIS = ("scaled_dot_product_attention", "MultiheadAttention")


def _call_with_placeholders(function: Any) -> Any:
    """Call ``function`` with ``None`` for every required argument (a stub raises before using them)."""
    positional = []
    keywords = {}
    for parameter in inspect.signature(function).parameters.values():
        if parameter.default is not parameter.empty:
            continue
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            positional.append(None)
        elif parameter.kind == parameter.KEYWORD_ONLY:
            keywords[parameter.name] = None
    return function(*positional, **keywords)


def _resolve(module: ModuleType, qualname: str) -> Any:
    target: Any = module
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def _public_names(module: ModuleType) -> list[str]:
    """Functions and classes the module defines itself (not imported ones), private helpers included."""
    return [
        name
        for name, value in vars(module).items()
        if (inspect.isfunction(value) or inspect.isclass(value)) and value.__module__ == module.__name__
    ]


# ---------------------------------------------------------------------------------------
# The stubs
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("step_id", "module"), STEPS, ids=STEP_IDS)
def test_stub_mirrors_the_solution_and_raises_not_implemented(step_id: str, module: str, solutions_module) -> None:
    solution = solutions_module(module)
    regions = solution_regions(Path(solution.__file__).read_text(encoding="utf-8"))
    names = _public_names(solution)
    solution_signatures = {name: str(inspect.signature(_resolve(solution, name))) for name in names}
    solution_signatures |= {r.qualname: str(inspect.signature(_resolve(solution, r.qualname))) for r in regions}

    stub = import_attention(EXERCISES, module)
    assert Path(stub.__file__).resolve() == (EXERCISES / "attention" / f"{module}.py").resolve()
    stub_source = Path(stub.__file__).read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" not in stub_source and "END SOLUTION" not in stub_source

    assert set(COURSE.step(step_id).api) <= set(names)
    assert _public_names(stub) == names  # same names, same order
    for name, signature in solution_signatures.items():
        assert str(inspect.signature(_resolve(stub, name))) == signature, name

    for name in COURSE.step(step_id).api:  # calling a function or instantiating a class
        with pytest.raises(NotImplementedError, match=rf"^{step_id}: "):
            _call_with_placeholders(getattr(stub, name))
    for region in regions:  # every region, methods included, raises with its own name
        with pytest.raises(NotImplementedError) as raised:
            _call_with_placeholders(_resolve(stub, region.qualname))
        assert str(raised.value) == f"{step_id}: {region.qualname} is not implemented yet"


def test_stub_messages_name_step_and_function() -> None:
    assert not_implemented_message("tokens", "build_vocab") == "tokens: build_vocab is not implemented yet"
    stub = (EXERCISES / "attention" / "self_attention.py").read_text(encoding="utf-8")
    assert 'raise NotImplementedError("self_attention: SelfAttention.forward is not implemented yet")' in stub
    assert 'raise NotImplementedError("self_attention: SelfAttention.__init__ is not implemented yet")' in stub


def test_package_init_is_copied_and_imports_no_step() -> None:
    init = (EXERCISES / "attention" / "__init__.py").read_text(encoding="utf-8")
    assert init == (SOLUTION_PACKAGE / "__init__.py").read_text(encoding="utf-8")
    tree = ast.parse(init)
    assert ast.get_docstring(tree)
    assert not [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]


def test_make_stub_keeps_everything_outside_the_regions() -> None:
    source = '''"""Doc."""

import torch


def f(x: int) -> int:
    """Add one.

    Hint: it is small.
    """
    ### BEGIN SOLUTION
    y = x + 1  # a comment
    return y
    ### END SOLUTION


class A:
    """A class."""

    size = 3  # class attributes stay

    def method(self) -> None:
        ### BEGIN SOLUTION
        if True:
            pass
        ### END SOLUTION
'''
    expected = '''"""Doc."""

import torch


def f(x: int) -> int:
    """Add one.

    Hint: it is small.
    """
    raise NotImplementedError("demo: f is not implemented yet")


class A:
    """A class."""

    size = 3  # class attributes stay

    def method(self) -> None:
        raise NotImplementedError("demo: A.method is not implemented yet")
'''
    assert make_stub(source, "demo") == expected
    assert [(r.begin, r.end, r.qualname) for r in solution_regions(source)] == [(11, 14, "f"), (23, 26, "A.method")]


# ---------------------------------------------------------------------------------------
# Marker rules
# ---------------------------------------------------------------------------------------


def test_every_step_module_has_regions_only_inside_functions(solutions_module) -> None:
    for step_id, module in STEPS:
        source = (SOLUTION_PACKAGE / f"{module}.py").read_text(encoding="utf-8")
        assert source.count(BEGIN_SOLUTION) == source.count(END_SOLUTION)
        regions = solution_regions(source, f"{module}.py")
        assert regions, f"{module}.py has no solution region"
        solution = solutions_module(module)
        for region in regions:
            target = _resolve(solution, region.qualname)
            assert inspect.isfunction(getattr(target, "__func__", target)), (step_id, region.qualname)
    assert solution_regions((SOLUTION_PACKAGE / "__init__.py").read_text(encoding="utf-8")) == []


def _body(*lines: str) -> str:
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        (_body("def f():", "    ### BEGIN SOLUTION", "    return 1"), r"line 2: ### BEGIN SOLUTION without an ### END"),
        (_body("def f():", "    return 1", "    ### END SOLUTION"), r"line 3: ### END SOLUTION without a ### BEGIN"),
        (
            _body("def f():", "    ### BEGIN SOLUTION", "    ### BEGIN SOLUTION", "    return 1",
                  "    ### END SOLUTION"),
            r"line 3: ### BEGIN SOLUTION inside the region opened at line 2",
        ),
        (_body("### BEGIN SOLUTION", "x = 1", "### END SOLUTION"), r"line 1: .*not inside a function body"),
        (
            _body("class A:", "    ### BEGIN SOLUTION", "    x = 1", "    ### END SOLUTION"),
            r"line 2: .*not inside a function body",
        ),
        (_body("def f():", "    ### BEGIN SOLUTION", "    # only a comment", "    ### END SOLUTION", "    pass"),
         r"line 2: the solution region holds no code"),
        (_body("def f():", "    return 1  ### BEGIN SOLUTION"), r"line 2: a solution marker must be alone on its line"),
        (
            _body("def f():", "    ### BEGIN SOLUTION", "    return 1", "  ### END SOLUTION"),
            r"line 4: ### END SOLUTION is not indented like its",
        ),
        (
            _body(
                "class A:",
                "    def f(self):",
                "        ### BEGIN SOLUTION",
                "        return 1",
                "",
                "    def g(self):",
                "        return 2",
                "        ### END SOLUTION",
            ),
            r"line 6: the solution region opened at line 3 leaves the body of A.f",
        ),
        (
            _body("def f(x):", "    if x:", "    ### BEGIN SOLUTION", "        return 1", "    ### END SOLUTION"),
            r"line 4: the region's first statement is not at the indentation",
        ),
    ],
    ids=["unclosed", "stray-end", "nested", "module-level", "class-body", "empty", "not-alone", "indent",
         "two-methods", "misindented"],
)
def test_misplaced_markers_are_reported_with_their_line(source: str, problem: str) -> None:
    with pytest.raises(MarkerError, match=problem):
        make_stub(source, "demo", filename="demo.py")


def test_a_bad_solution_module_is_a_release_problem(tmp_path: Path) -> None:
    layout = _copy_repository(tmp_path)
    path = layout.solution_package / "tokens.py"
    path.write_text(path.read_text(encoding="utf-8").replace("    ### END SOLUTION\n", "", 1), encoding="utf-8")
    problems = check_release(COURSE, layout)
    assert len(problems) == 1 and problems[0].startswith("solutions/attention/tokens.py, line ")
    with pytest.raises(MarkerError):
        write_release(COURSE, layout)


# ---------------------------------------------------------------------------------------
# Sync check
# ---------------------------------------------------------------------------------------


def _copy_repository(tmp_path: Path) -> Layout:
    """A copy of ``solutions/attention`` and ``exercises/`` under ``tmp_path``."""
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", ".pytest_cache")
    layout = Layout(tmp_path)
    shutil.copytree(SOLUTION_PACKAGE, layout.solution_package, ignore=ignore)
    shutil.copytree(EXERCISES, layout.exercises, ignore=ignore)
    return layout


def test_the_committed_exercises_are_up_to_date_and_hold_no_solution_code() -> None:
    """``release --check``: `check_release` on the repository finds no problem (its lines would be printed).

    One run of the command checks both the repository and the command (each run renders every
    notebook and runs nbgrader: about 10 s).
    """
    result = subprocess.run(
        [sys.executable, "-m", "autograder", "release", "--check"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "exercises/ is up to date and holds no solution code\n", result.stdout + result.stderr


def test_edited_stub_changed_solution_missing_and_stale_files_are_reported(tmp_path: Path) -> None:
    layout = _copy_repository(tmp_path)
    assert check_release(COURSE, layout) == []

    stub = layout.stub_package / "weights.py"
    stub.write_text(stub.read_text(encoding="utf-8") + "# a learner's note\n", encoding="utf-8")
    solution = layout.solution_package / "context.py"
    solution.write_text(solution.read_text(encoding="utf-8").replace("Hint:", "Hint (new):", 1), encoding="utf-8")
    (layout.stub_package / "scores.py").unlink()
    (layout.stub_package / "old_step.py").write_text('"""A step that no longer exists."""\n', encoding="utf-8")
    steps = layout.steps_module
    steps.write_text(steps.read_text(encoding="utf-8").replace("'tokens'", "'tokenz'", 1), encoding="utf-8")

    fix = "run `python -m autograder release`"
    assert sorted(check_release(COURSE, layout)) == sorted([
        f"exercises/attention/weights.py: out of date; {fix}",
        f"exercises/attention/context.py: out of date; {fix}",
        f"exercises/attention/scores.py: missing; {fix}",
        f"exercises/attention/old_step.py: no longer generated from solutions/; {fix} to remove it",
        f"exercises/selfcheck/steps.py: out of date; {fix}",
    ])

    written = write_release(COURSE, layout)
    assert sorted(p.name for p in written) == ["context.py", "scores.py", "steps.py", "weights.py"]
    assert remove_stale(COURSE, layout) == [layout.stub_package / "old_step.py"]
    assert check_release(COURSE, layout) == []
    assert write_release(COURSE, layout) == [] and remove_stale(COURSE, layout) == []
    assert "Hint (new):" in (layout.stub_package / "context.py").read_text(encoding="utf-8")


def test_steps_table_lines_fit_the_line_length() -> None:
    table = render_steps_module(COURSE)
    assert max(len(line) for line in table.splitlines()) <= 120
    namespace: dict[str, Any] = {}
    exec(compile(table, "steps.py", "exec"), namespace)  # noqa: S102 - our own generated code
    assert [s.id for s in namespace["STEPS"]] == STEP_IDS
    assert namespace["BY_ID"]["causal_mask"].api == COURSE.step("causal_mask").api


# ---------------------------------------------------------------------------------------
# Leak check
# ---------------------------------------------------------------------------------------


def _solution_line(module: str, text: str) -> tuple[int, str]:
    """(line number, line) of the line of ``solutions/attention/<module>.py`` that contains ``text``."""
    lines = (SOLUTION_PACKAGE / f"{module}.py").read_text(encoding="utf-8").splitlines()
    number = next(n for n, line in enumerate(lines, start=1) if text in line)
    return number, lines[number - 1]


def _leaks_at(layout: Layout, where: str) -> list[str]:
    return [str(leak) for leak in find_leaks(layout) if str(leak).startswith(where)]


def test_a_solution_line_pasted_into_a_stub_is_reported(tmp_path: Path) -> None:
    layout = _copy_repository(tmp_path)
    number, line = _solution_line("tokens", "sorted(set(text.split()))")
    stub = layout.stub_package / "tokens.py"
    lines = stub.read_text(encoding="utf-8").splitlines()
    at = next(n for n, text in enumerate(lines) if "tokens: build_vocab is not implemented" in text)
    lines.insert(at, line)
    stub.write_text("\n".join(lines) + "\n", encoding="utf-8")

    problems = check_release(COURSE, layout)
    assert "exercises/attention/tokens.py: out of date; run `python -m autograder release`" in problems
    assert problems.count(
        f"exercises/attention/tokens.py, line {at + 1}: solution code from solutions/attention/tokens.py, "
        f"line {number}: `{line.strip()}`"
    ) == 1


def test_solution_code_in_markdown_text_and_notebooks_is_reported(tmp_path: Path) -> None:
    layout = _copy_repository(tmp_path)
    _, closed_form = _solution_line("causal_pairs", "n * (n + 1) // 2")
    _, message = _solution_line("tokens", "raise KeyError(")
    _, product = _solution_line("multi_head", "scores = queries @ keys_t")
    notes = layout.exercises / "notes" / "hints.md"
    notes.parent.mkdir()
    notes.write_text(f"# Hints\n\nThe count is `{closed_form.strip()}`.\n", encoding="utf-8")
    (layout.exercises / "scratch.txt").write_text(
        "spacing and comments do not hide a line:\n" + product.replace(" @ ", "@").split("#")[0] + "  # mine\n",
        encoding="utf-8",
    )
    notebook = {"cells": [{"cell_type": "code", "source": ["def f(word):\n", "    " + message.strip() + "\n"]}]}
    (layout.exercises / "demo.ipynb").write_text(json.dumps(notebook, indent=1), encoding="utf-8")

    assert len(_leaks_at(layout, "exercises/notes/hints.md, line 3: solution code from solutions/attention/")) == 1
    assert _leaks_at(layout, "exercises/scratch.txt, line 2: solution code from solutions/attention/")
    notebook_lines = (layout.exercises / "demo.ipynb").read_text(encoding="utf-8").splitlines()
    row = next(n for n, text in enumerate(notebook_lines, start=1) if "KeyError" in text)
    assert _leaks_at(layout, f"exercises/demo.ipynb, line {row}: solution code from solutions/attention/tokens.py")
    assert len(check_release(COURSE, layout)) == 3


def test_leak_check_has_no_false_positives_for_kept_generic_or_binary_text(tmp_path: Path) -> None:
    layout = _copy_repository(tmp_path)
    _, line = _solution_line("tokens", "words = sorted(set(text.split()))")
    (layout.exercises / "ok.md").write_text(
        "\n".join([
            "    return out",  # generic: too short to count
            "    super().__init__()",  # boilerplate
            "Call ``torch.manual_seed(seed)`` first.",  # kept outside the regions (a docstring)
            line.replace("words = ", "my_words = "),  # whole tokens only
        ]) + "\n",
        encoding="utf-8",
    )
    (layout.exercises / "blob.bin").write_bytes(b"\0\1" + line.encode())
    assert find_leaks(layout) == []


def test_significant_lines_follow_the_documented_rule() -> None:
    significant = {line.code for line in significant_solution_lines(SOLUTION_PACKAGE).values()}
    assert "return n * (n + 1) // 2" in significant
    assert "return weights @ values" in significant
    for generic in ("return mha", "try:", "ids = []", "super().__init__()", "torch.manual_seed(seed)", ")"):
        assert generic not in significant
    assert all(not code.startswith("#") for code in significant)


# ---------------------------------------------------------------------------------------
# The solution modules: imports only from earlier steps, no forbidden APIs
# ---------------------------------------------------------------------------------------


def _attention_imports(tree: ast.Module) -> list[tuple[int, str | None]]:
    """(level, imported attention module) for every import of the package; level > 0 is relative."""
    found: list[tuple[int, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(0, a.name.split(".")[1] if "." in a.name else None)
                      for a in node.names if a.name.split(".")[0] == "attention"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.append((node.level, node.module))
            elif node.module == "attention":
                found += [(0, a.name) for a in node.names]
            elif node.module and node.module.startswith("attention."):
                found.append((0, node.module.split(".")[1]))
    return found


@pytest.mark.parametrize(("step_id", "module"), STEPS, ids=STEP_IDS)
def test_solution_imports_only_earlier_steps_and_no_forbidden_api(step_id: str, module: str) -> None:
    source = (SOLUTION_PACKAGE / f"{module}.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    earlier = [s.module for s in COURSE.earlier_steps(step_id)]
    for level, imported in _attention_imports(tree):
        assert level == 0, f"{module}.py: relative import of {imported!r}; write `from attention.<module> import ...`"
        assert imported in earlier, f"{module}.py imports attention.{imported}, which is not an earlier step"
    for api in FORBIDDEN_APIS:
        assert api not in source, f"{module}.py mentions {api}"


def test_required_reuse_of_earlier_steps() -> None:
    multi_head = ast.parse((SOLUTION_PACKAGE / "multi_head.py").read_text(encoding="utf-8"))
    assert any(isinstance(n, ast.ImportFrom) and n.module == "attention.self_attention"
               and "SelfAttention" in [a.name for a in n.names] for n in ast.walk(multi_head))
    causal = ast.parse((SOLUTION_PACKAGE / "causal_attention.py").read_text(encoding="utf-8"))
    assert any(isinstance(n, ast.ImportFrom) and n.module == "attention.causal_mask"
               and "causal_mask" in [a.name for a in n.names] for n in ast.walk(causal))
