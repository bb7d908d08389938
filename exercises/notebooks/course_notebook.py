"""Helpers for the step notebooks of "From self-attention to causal self-attention".

This file sits next to the notebooks, and their first cell imports it. It gives them:

- the running example: `SENTENCE`, `TOKENS`, `embedded_sentence()`, `projection_matrices()`;
- `heatmap()`: the pictures, with the sentence's tokens on the axes;
- `check()`: runs public checks (the ones ``pytest`` runs in ``exercises/``) on this notebook's code;
- `check_answer()`: checks the form of your answer to a concept question;
- `from_notebook()`: an earlier step's function, loaded from the notebook where you wrote it, or
  from the package (``attention/``) when you wrote that step there.

When your instructor grades the notebooks with nbgrader, the test cells also run hidden tests,
and every step is checked with the grader's reference version of the earlier steps, so that a
mistake costs points in its own step only.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import linecache
import operator
import os
import sys
import warnings
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if (HERE.parent / "selfcheck").is_dir() and str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))  # exercises/: the check library next to this folder

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from selfcheck import LocalSubject, run_checks  # noqa: E402
from selfcheck.public import PUBLIC  # noqa: E402
from selfcheck.steps import STEPS  # noqa: E402
from selfcheck.time_limit import CALL_SECONDS, TimeLimitReached, time_limit  # noqa: E402

SENTENCE = "The sun rises in the east"
TOKENS = SENTENCE.split()  # ['The', 'sun', 'rises', 'in', 'the', 'east']
SEED = 123  # the article's torch.manual_seed(123)
PASS, FAIL = "✓", "✗"
ANSWER_FORMS = {
    "int": "an int",
    "letter": "one letter, such as 'A'",
    "positions": "a list of positions (ints), such as [0, 1]",
}
_RED, _RESET = "\x1b[31m", "\x1b[0m"


def grading() -> bool:
    """True while nbgrader autogrades this notebook (nbgrader sets ``NBGRADER_EXECUTION``)."""
    return os.environ.get("NBGRADER_EXECUTION") == "autograde"


# ---------------------------------------------------------------------------------------
# The running example (computed with torch alone, so that it works before you write any code)
# ---------------------------------------------------------------------------------------


def embedded_sentence() -> torch.Tensor:
    """The sentence's embeddings ``(6, 3)``: the rows of ``nn.Embedding(50_000, 3)`` after ``manual_seed(123)``.

    ``nn.Embedding`` fills its table with ``torch.randn``; drawing the same numbers from a private
    generator leaves torch's global random state alone.
    """
    table = torch.randn(50_000, 3, generator=torch.Generator().manual_seed(SEED))
    return table[torch.tensor([0, 4, 3, 2, 5, 1])]


def projection_matrices(d_in: int = 3, d_out_kq: int = 2, d_out_v: int = 4) -> tuple[torch.Tensor, ...]:
    """``W_query``, ``W_key``, ``W_value``: what ``torch.rand`` draws after ``torch.manual_seed(123)``."""
    generator = torch.Generator().manual_seed(SEED)
    shapes = ((d_in, d_out_kq), (d_in, d_out_kq), (d_in, d_out_v))
    return tuple(torch.rand(shape, generator=generator) for shape in shapes)


# ---------------------------------------------------------------------------------------
# Pictures
# ---------------------------------------------------------------------------------------


BLOCKED_COLOUR, BLOCKED_EDGE, BLOCKED_HATCH = "#e0e0e0", "#8c8c8c", "///"


def _is_dark(rgba: Sequence[float]) -> bool:
    """True for a colour on which white text reads better than black (relative luminance, sRGB)."""
    red, green, blue = ((c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4) for c in rgba[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue < 0.179


def heatmap(
    matrix: Any,
    rows: Sequence[str] | None = None,
    cols: Sequence[str] | None = None,
    *,
    title: str | None = None,
    ax: Any = None,
    xlabel: str = "key",
    ylabel: str = "query",
    decimals: int = 2,
    text: Sequence[Sequence[str]] | None = None,
    cmap: str = "Blues",
    blocked_label: str | None = None,
) -> Any:
    """Draw ``matrix`` as a heatmap with its values written in the cells; returns the axes.

    ``rows`` and ``cols`` label the axes (tokens, positions). Entries that are ``-inf`` or NaN are
    not on the colour scale: they are drawn as blocked cells, light grey and hatched (``-inf`` is
    written as such), so a blocked cell never looks like the strongest value. A legend names them:
    ``blocked_label``, by default "-inf: blocked" when the matrix holds ``-inf``. ``text`` writes
    strings instead of values.
    """
    from matplotlib.patches import Patch, Rectangle

    data = torch.as_tensor(matrix).detach().to(torch.float64)
    if data.dim() == 1:
        data = data.unsqueeze(0)
    values = data.numpy()
    if ax is None:
        height, width = values.shape
        _, ax = plt.subplots(figsize=(1.0 + 0.75 * width, 0.8 + 0.6 * height))
    shown = np.ma.masked_invalid(values)
    colours = plt.get_cmap(cmap).with_extremes(bad=BLOCKED_COLOUR)
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    scale = plt.Normalize(vmin=low, vmax=high if high > low else low + 1)
    ax.imshow(shown, cmap=colours, norm=scale)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            value = values[i, j]
            if not np.isfinite(value) and not (np.isinf(value) and value > 0):
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=BLOCKED_COLOUR, edgecolor=BLOCKED_EDGE,
                                       hatch=BLOCKED_HATCH, linewidth=0))
            if text is not None:
                label = text[i][j]
            elif np.isnan(value):
                label = ""
            elif np.isinf(value):
                label = "-inf" if value < 0 else "inf"
            else:
                label = f"{value:.{decimals}f}"
            ax.text(j, i, label, ha="center", va="center", fontsize=9,
                    color="white" if np.isfinite(value) and _is_dark(colours(scale(value))) else "black")
    if blocked_label is None and np.isneginf(values).any():
        blocked_label = "-inf: blocked"
    if blocked_label:
        ax.legend(handles=[Patch(facecolor=BLOCKED_COLOUR, edgecolor=BLOCKED_EDGE, hatch=BLOCKED_HATCH,
                                 label=blocked_label)],
                  loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize=8, frameon=False, borderaxespad=0.1)
    ax.set_xticks(range(values.shape[1]), labels=list(cols) if cols is not None else range(values.shape[1]))
    ax.set_yticks(range(values.shape[0]), labels=list(rows) if rows is not None else range(values.shape[0]))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, pad=16 if blocked_label else 6)
    return ax


# ---------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------


class CheckError(AssertionError):
    """A check failed; Jupyter shows just its lines (no traceback into the checks)."""

    def __init__(self, lines: Sequence[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = list(lines)

    def _render_traceback_(self) -> list[str]:  # IPython's hook for how an exception is shown
        return [f"{_RED}{line}{_RESET}" if line.startswith(FAIL) else line for line in self.lines]


_grading_context: Callable[[str, MutableMapping[str, Any]], contextlib.AbstractContextManager] | None = None


def use_while_grading(context: Callable[[str, MutableMapping[str, Any]], contextlib.AbstractContextManager]) -> None:
    """While nbgrader grades, run each step's checks inside ``context(step, namespace)``.

    The hidden block of a test cell passes the grader's stand-ins for the earlier steps here, so a
    mistake in an earlier step costs points in its own step only. This file never imports the grader.
    """
    global _grading_context
    _grading_context = context


@contextlib.contextmanager
def _checking(step: str, namespace: MutableMapping[str, Any]) -> Iterator[None]:
    """Around a check: your random state is kept and warnings are ignored. While nbgrader grades,
    the earlier steps are the grader's reference versions and printed output is swallowed."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.random.fork_rng(devices=[]))
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore")
        if grading():
            sink = io.StringIO()
            stack.enter_context(contextlib.redirect_stdout(sink))
            stack.enter_context(contextlib.redirect_stderr(sink))
            if _grading_context is not None:
                stack.enter_context(_grading_context(step, namespace))
        yield


def check(step: str, namespace: MutableMapping[str, Any], *names: str) -> None:
    """Run the public checks ``names`` of ``step`` on the code defined in ``namespace`` (``globals()``).

    Prints ``✓ <what was checked>`` for each check that passes; stops at the first that fails
    with a `CheckError` saying what is wrong.
    """
    known = {c.name: c for c in PUBLIC.for_step(step)}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"step {step!r} has no public check {unknown[0]!r}")
    subject = LocalSubject(step, namespace, "the notebook")
    checking = functools.partial(_checking, step, namespace)
    for public, outcome in run_checks([known[name] for name in names], subject, 0, around=checking):
        if not outcome.passed:
            raise CheckError([f"{FAIL} {public.title}", *(f"    {line}" for line in outcome.message.splitlines())])
        print(f"{PASS} {public.title}")


def check_answer(name: str, namespace: MutableMapping[str, Any], kind: str) -> None:
    """Check that the concept question's answer ``name`` is given, in the form ``kind``.

    Whether it is right is checked when your work is graded.
    """
    form = ANSWER_FORMS[kind]
    if name not in namespace:
        raise CheckError([f"{FAIL} `{name}` is not defined: run the answer cell above"])
    value = namespace[name]
    if value is Ellipsis:
        raise CheckError([f"{FAIL} `{name}` is not answered yet: replace ... with your answer ({form})"])
    if not _has_form(value, kind):
        raise CheckError([f"{FAIL} `{name}` should be {form}, not {value!r}"])
    print(f"{PASS} `{name}` is answered ({form}); whether it is right is checked when your work is graded")


def _has_form(value: Any, kind: str) -> bool:
    if kind == "int":
        return _is_int(value)
    if kind == "letter":
        return isinstance(value, str) and len(value.strip()) == 1 and value.strip().isalpha()
    if kind == "positions":
        return isinstance(value, (list, tuple, set, range)) and all(_is_int(v) for v in value)
    raise ValueError(f"unknown answer kind {kind!r}")


def _is_int(value: Any) -> bool:
    """An int or an integer-like value (``operator.index`` accepts it), but not True or False."""
    try:
        operator.index(value)
    except TypeError:
        return False
    return type(value) is not bool


# ---------------------------------------------------------------------------------------
# Earlier steps, from your own notebooks
# ---------------------------------------------------------------------------------------

_OWNERS = {name: step for step in STEPS for name in step.api}
_LOADED: dict[tuple[str, int], dict[str, Any]] = {}
_LOADING: set[str] = set()


def from_notebook(notebook: str, name: str) -> Any:
    """``name``, an earlier step's function or class, from where you wrote it: your notebook
    ``<notebook>.ipynb`` (as saved) or the package, ``attention/<module>.py`` next to this folder.

    The notebook comes first: its answer cells run in a namespace of their own. When it does not
    implement ``name`` yet (still the stub, not saved, an error in it), the package's module is
    used instead. Prints where ``name`` came from, or where it looked. When neither has it, you
    get a stand-in that raises ``NotImplementedError`` saying where it looked, so the checks tell
    you to finish that step first. While nbgrader grades, the grader's reference version is used
    instead (see `check`).
    """
    owner = _OWNERS.get(name)
    step = owner.id if owner else notebook
    if grading():
        return _unavailable(f"{step}: {name} is not available (while grading, the grader's reference version is used)",
                            name)
    label = f"`{name}` (step {owner.number})" if owner else f"`{name}`"
    places = [(f"{notebook}.ipynb", lambda: _run_answers(HERE / f"{notebook}.ipynb"))]
    if owner is not None:
        places.append((f"attention/{owner.module}.py", lambda: _run_module(PACKAGE / f"{owner.module}.py")))
    say = print if not _LOADING else (lambda *_: None)  # an earlier notebook's own loading cells keep quiet
    looked = []
    for where, load in places:
        found, why = _look_up(load, name, step)
        if found is not None:
            say(f"{label}: from {where}")
            return found
        looked.append(f"{where}: {why}")
    reason = "looked in " + "; ".join(looked)
    say(f"{label}: not implemented yet: {reason}")
    return _unavailable(f"{step}: {name} is not implemented yet ({reason})", name)


PACKAGE = HERE.parent / "attention"  # the course package, next to the notebooks' folder


def _look_up(load: Any, name: str, step: str) -> tuple[Any, str]:
    """(``name`` from the namespace ``load()`` gives, or None; why not)."""
    try:
        with time_limit():
            namespace = load()
    except FileNotFoundError:
        return None, "not found"
    except TimeLimitReached:
        return None, f"running it did not finish within {CALL_SECONDS:g} s"
    except Exception as error:  # noqa: BLE001 - anything in the learner's earlier code
        where = ""
        if isinstance(error, SyntaxError) and error.lineno:
            where = f", line {error.lineno}"
        return None, f"it could not be run: {type(error).__name__}: {error}{where}"
    if name not in namespace:
        return None, f"it does not define `{name}`"
    if _is_stub(namespace[name], step):
        return None, "still the stub"
    return namespace[name], ""


def _is_stub(value: Any, step: str) -> bool:
    """True when ``value`` (a function or class) still raises the release's "<step>: ... is not implemented yet"."""
    prefix = f"{step}: "
    codes = []
    if isinstance(value, type):
        codes = [getattr(v, "__code__", None) for v in vars(value).values()]
    else:
        codes = [getattr(value, "__code__", None)]
    pending = [c for c in codes if c is not None]
    while pending:
        code = pending.pop()
        for const in code.co_consts:
            if isinstance(const, str) and const.startswith(prefix) and const.endswith("is not implemented yet"):
                return True
            if hasattr(const, "co_consts"):
                pending.append(const)
    return False


def _run_module(path: Path) -> dict[str, Any]:
    """The namespace of the module file ``path``, run afresh (your latest saved version)."""
    code = path.read_text(encoding="utf-8")
    namespace: dict[str, Any] = {"__name__": f"package_{path.stem}", "__file__": str(path)}
    exec(compile(code, str(path), "exec"), namespace)  # noqa: S102 - the learner's own code
    return namespace


def _unavailable(message: str, name: str = "unavailable") -> Any:
    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(message)

    unavailable.__name__ = unavailable.__qualname__ = name
    return unavailable


def _run_answers(path: Path) -> dict[str, Any]:
    """The namespace of ``path``'s earlier-steps cells and answer cells, run in order (cached)."""
    key = (str(path), path.stat().st_mtime_ns)
    if key in _LOADED:
        return _LOADED[key]
    if str(path) in _LOADING:
        raise RuntimeError(f"{path.name} loads itself")
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    sources = []
    for cell in cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        answer = grade_id.endswith("_answer") and not grade_id.startswith("question_")
        wanted = answer or grade_id.endswith("_earlier")
        if cell.get("cell_type") == "code" and wanted:
            source = cell.get("source", "")
            sources.append("".join(source) if isinstance(source, list) else source)
    code = "\n\n".join(sources) + "\n"
    filename = path.name
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    namespace: dict[str, Any] = {"__name__": f"notebook_{path.stem}", "__file__": str(path)}
    _LOADING.add(str(path))
    try:
        exec(compile(code, filename, "exec"), namespace)  # noqa: S102 - the learner's own code
    finally:
        _LOADING.discard(str(path))
    _LOADED[key] = namespace
    return namespace
