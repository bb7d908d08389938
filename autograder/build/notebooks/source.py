"""The authored part of a notebook: a percent-format ``.py`` file (jupytext / VS Code cells).

``solutions/notebooks/src/<notebook>.py`` holds, in order, the cells of one notebook::

    # %% [markdown]
    # # Step 1: words to token ids
    # Prose, with `code` and $maths$.

    # %% [setup]
    import torch                      # the first code cell: imports and helpers (locked)

    # %%
    print(torch.__version__)          # a worked example (editable)

    # %% [plot]
    heatmap(...)                      # a picture: it must render, also for a learner who has written nothing

    # %% [answer] tokens              # the answer cell of step `tokens` (from solutions/attention/tokens.py)
    # %% [tests] tokens               # its test cells (from the public and hidden checks)
    # %% [question] keys_for_query_5  # a concept question (prompt in the markdown cell before it)

Lines before the first ``# %%`` are a header (a docstring, a ``ruff`` directive) and are
ignored. A markdown cell's lines start with ``# `` (or are a lone ``#``). ``answer``, ``tests``
and ``question`` cells have no body: the builder generates them. Because the file is valid Python
that only uses its own setup cell's names, ``ruff`` lints the worked examples and plots, and a
plot can never depend on code the learner has not written yet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

KINDS = ("markdown", "setup", "code", "plot", "answer", "tests", "question")
GENERATED = ("answer", "tests", "question")
_MARKER = re.compile(r"^# %%(?:\s+\[(?P<kind>[a-z]+)\])?(?:\s+(?P<arg>\S+))?\s*$")


class SourceError(ValueError):
    """A notebook source that cannot be read (one line naming the file and line)."""


@dataclass(frozen=True)
class SourceCell:
    kind: str  # one of KINDS
    body: str  # markdown text or code, without the marker line; "" for generated cells
    arg: str | None  # the step id or question name of answer/tests/question cells
    line: int  # line number of the marker, for messages


def parse_source(text: str, filename: str = "<source>") -> list[SourceCell]:
    """The cells of a percent-format notebook source, in order. Raises `SourceError`."""
    cells: list[SourceCell] = []
    current: tuple[str, str | None, int] | None = None
    body: list[str] = []

    def close() -> None:
        if current is None:
            return
        kind, arg, line = current
        text_lines = list(body)
        while text_lines and not text_lines[-1].strip():
            text_lines.pop()
        while text_lines and not text_lines[0].strip():
            text_lines.pop(0)
        if kind == "markdown":
            text_lines = [_uncomment(entry, filename, line) for entry in text_lines]
        content = "\n".join(text_lines)
        if kind in GENERATED and content.strip():
            raise SourceError(f"{filename}, line {line}: a [{kind}] cell is generated and must be empty")
        if kind not in GENERATED and not content.strip():
            raise SourceError(f"{filename}, line {line}: empty {kind} cell")
        cells.append(SourceCell(kind, content, arg, line))

    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.startswith("# %%"):
            match = _MARKER.match(raw)
            if match is None:
                raise SourceError(f"{filename}, line {number}: cannot read the cell marker {raw!r}")
            close()
            kind = match.group("kind") or "code"
            arg = match.group("arg")
            if kind not in KINDS:
                raise SourceError(f"{filename}, line {number}: unknown cell kind [{kind}] (known: {', '.join(KINDS)})")
            if (kind in GENERATED) != (arg is not None):
                need = "needs a step id or question name" if kind in GENERATED else "takes no argument"
                raise SourceError(f"{filename}, line {number}: a [{kind}] cell {need}")
            current, body = (kind, arg, number), []
        elif current is not None:
            body.append(raw)
    close()
    if not cells:
        raise SourceError(f"{filename}: no cells (a cell starts with a `# %%` line)")
    setups = [c for c in cells if c.kind == "setup"]
    first_code = next((c for c in cells if c.kind != "markdown"), None)
    if len(setups) != 1 or first_code is not setups[0]:
        raise SourceError(f"{filename}: the first code cell must be the one [setup] cell")
    return cells


def _uncomment(line: str, filename: str, cell_line: int) -> str:
    if line == "#":
        return ""
    if line.startswith("# "):
        return line[2:]
    raise SourceError(f"{filename}: the markdown cell at line {cell_line} has a line not starting with '# ': {line!r}")


def read_source(path: Path) -> list[SourceCell]:
    return parse_source(path.read_text(encoding="utf-8"), path.as_posix())


class BuildError(ValueError):
    """A notebook source that does not fit the course (one line)."""
