"""What ``nbgrader_config.py`` plugs into nbgrader (imported only by nbgrader's processes).

- `StepClearSolutions`: ``generate_assignment``'s ``ClearSolutions`` with the release's stubs.
  nbgrader's own replaces every solution region by one fixed ``code_stub``; this one replaces a
  region inside a function by the line the release stubs use,
  ``raise NotImplementedError("<step>: <function> is not implemented yet")``
  (`autograder.build.stubs.make_stub`), so a learner sees the same message in the notebook and in
  ``attention/<module>.py``, and the public checks can tell which step is unfinished. A concept
  question's region (``name = answer``) becomes ``name = ...  # replace ... with your answer``.
- `generate_assignment_preprocessors`: nbgrader's list with `StepClearSolutions` in place of
  ``ClearSolutions``.
- `feedback_preprocessors`: nbgrader's list plus ``ClearHiddenTests``, so that feedback HTML
  shows the results of hidden tests but never their source.
- `ReleasedOverwriteCells`: ``autograde``'s ``OverwriteCells``, without the false alarm. The
  gradebook keeps each test cell's checksum *with* its hidden tests (``SaveCells`` runs before
  ``ClearHiddenTests``), the learner gets the cell without them, so nbgrader's own warns
  "Attribute 'checksum' ... has changed!" for every test cell of every student. A locked cell
  handed in exactly as released (the gradebook's source with its hidden tests cleared) is given
  its hidden tests back first, silently; any other change is still reported and restored.
  `autograde_sanitize_preprocessors` puts it in nbgrader's list.
"""

from __future__ import annotations

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbformat import NotebookNode
from nbgrader.api import MissingEntry
from nbgrader.converters.autograde import Autograde
from nbgrader.converters.generate_assignment import GenerateAssignment
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions, GetGrades, OverwriteCells

from autograder.build.stubs import make_stub
from autograder.errors import MarkerError
from autograder.hidden.questions import QUESTIONS
from autograder.markers import BEGIN_SOLUTION, END_SOLUTION
from autograder.notebook_ids import step_of_answer_id


class StepClearSolutions(ClearSolutions):
    """``ClearSolutions`` whose stubs name the step and the function (see the module docstring)."""

    def _replace_solution_region(self, cell, language):  # noqa: ANN001, ANN202 - nbgrader's signature
        source = cell.source
        if cell.cell_type != "code" or BEGIN_SOLUTION not in source:
            return super()._replace_solution_region(cell, language)
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        step = step_of_answer_id(grade_id)
        if step is not None:
            try:
                cell.source = make_stub(source, step, filename=f"answer cell {grade_id}").rstrip("\n")
            except MarkerError as error:
                raise RuntimeError(str(error)) from None
            return True
        question = QUESTIONS.get(grade_id.removeprefix("question_"))
        if question is not None:
            lines, inside, replaced = [], False, False
            for line in source.split("\n"):
                if line.strip() == BEGIN_SOLUTION:
                    inside, replaced = True, True
                    lines.append(question.stub_line)
                elif line.strip() == END_SOLUTION:
                    inside = False
                elif not inside:
                    lines.append(line)
            cell.source = "\n".join(lines)
            return replaced
        return super()._replace_solution_region(cell, language)


def generate_assignment_preprocessors() -> list:
    """nbgrader's ``GenerateAssignment.preprocessors`` with `StepClearSolutions`."""
    default = GenerateAssignment.class_traits()["preprocessors"].default()
    return [StepClearSolutions if p is ClearSolutions else p for p in default]


def feedback_preprocessors() -> list:
    """``GenerateFeedback.preprocessors`` that also remove hidden test source from the HTML."""
    return [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]


class ReleasedOverwriteCells(OverwriteCells):
    """``OverwriteCells`` that takes a locked cell handed in as released for unchanged (module docstring)."""

    def preprocess_cell(self, cell, resources, cell_index):  # noqa: ANN001, ANN201 - nbgrader's signature
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is not None:
            try:
                kept = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id)
            except MissingEntry:
                kept = None
            if kept is not None and kept.locked and cell.source == released_source(kept.source, cell):
                cell.source = kept.source  # its hidden tests back: the checksum then matches the gradebook's
        return super().preprocess_cell(cell, resources, cell_index)


def released_source(source: str, cell: NotebookNode) -> str:
    """``source`` as ``generate_assignment`` releases it: its hidden tests cleared (nbgrader's own preprocessor)."""
    copy = NotebookNode(cell_type=cell.cell_type, source=source, metadata={"nbgrader": {"grade": True}})
    ClearHiddenTests().preprocess_cell(copy, {}, 0)
    return copy.source


def autograde_sanitize_preprocessors() -> list:
    """nbgrader's ``Autograde.sanitize_preprocessors`` with `ReleasedOverwriteCells`."""
    default = Autograde.class_traits()["sanitize_preprocessors"].default()
    return [ReleasedOverwriteCells if p is OverwriteCells else p for p in default]
