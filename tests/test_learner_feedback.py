"""What the learner reads: where an error is, which hints it gets, the step table ``pytest`` shows.

- An error raised in a helper file names the step's own call too.
- ``token_output`` (no weight matrices) gets no weight-shape hint; the unsliced-mask hint does not give
  the answer line; keys.T on batched keys is named.
- ``selfcheck/steps.py`` carries ``course.yml``'s points, the concept questions' share and the output limit.
- The notebooks' heatmap writes white only on dark cells.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import torch
from mistake_cases import MISTAKES
from test_hidden_checks import reference_with, run_one

from autograder.course import load_course
from autograder.hidden.questions import questions_of
from selfcheck import LocalSubject, run_check
from selfcheck import mistakes as m
from selfcheck.errors import HINT_PREFIX, WEIGHT_HINT
from selfcheck.public import PUBLIC
from selfcheck.steps import OUTPUT_KB, STEPS

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_an_error_in_a_helper_file_names_the_steps_call(tmp_path: Path) -> None:
    helper = tmp_path / "attention_helper_for_test.py"
    helper.write_text("def scale(x):\n    raise ValueError('no scale today')\n", encoding="utf-8")
    step = tmp_path / "weights_step_for_test.py"
    step.write_text(textwrap.dedent("""\
        from attention_helper_for_test import scale


        def attention_weights(scores, d_k):
            return scale(scores)
        """), encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        import weights_step_for_test  # type: ignore[import-not-found]

        subject = LocalSubject("weights", vars(weights_step_for_test), "attention/weights.py")
        outcome = run_check(PUBLIC.for_step("weights")[0], subject, 0)
    finally:
        sys.path.remove(str(tmp_path))
        for name in ("weights_step_for_test", "attention_helper_for_test"):
            sys.modules.pop(name, None)
    assert outcome.status == "failed"
    assert "(attention_helper_for_test.py, line 2, called from weights_step_for_test.py, line 5)" in outcome.message


def test_token_output_gets_no_weight_hint() -> None:
    def token_output(weights_row, values):  # noqa: ANN001, ANN202 - learner code
        return torch.as_tensor(weights_row, dtype=torch.float32) @ torch.as_tensor(values, dtype=torch.float32).mT

    namespace = reference_with(token_output=token_output)
    subject = LocalSubject("causal_attention", namespace, "attention/causal_attention.py")
    messages = [run_check(check, subject, 0).message for check in PUBLIC.for_step("causal_attention")]
    shape_errors = [text for text in messages if "shapes cannot be multiplied" in text]
    assert shape_errors and all(HINT_PREFIX in text and WEIGHT_HINT not in text for text in shape_errors), messages


def test_the_unsliced_mask_hint_does_not_give_the_line() -> None:
    assert "mask[:" not in m.UNSLICED and "[:T" not in m.UNSLICED


def test_keys_t_on_batched_keys_is_named_on_both_sides() -> None:
    mistake = next(mistake for mistake in MISTAKES if mistake.label == "keys.T on batched keys")
    namespace = reference_with(**mistake.overrides)
    subject = LocalSubject("scores", namespace, "attention/scores.py")
    public = [run_check(check, subject, 0).message for check in PUBLIC.for_step("scores")]
    hidden = run_one("scores", namespace, mistake.check, 3).message
    assert any("keys.T is a usual cause" in text for text in public) and "keys.T is a usual cause" in hidden


def test_the_step_table_carries_points_questions_and_the_output_limit() -> None:
    course = load_course()
    assert OUTPUT_KB == course.limits.output_kb
    for info, step in zip(STEPS, course.steps, strict=True):
        assert info.points == step.points, step.id
        assert info.question_points == sum(q.points for q in questions_of(step.id)), step.id
    assert any(info.question_points for info in STEPS)


def test_heatmap_writes_white_only_on_dark_cells() -> None:
    sys.path.insert(0, str(REPO_ROOT / "solutions" / "notebooks"))
    try:
        import course_notebook  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(REPO_ROOT / "solutions" / "notebooks"))
    import matplotlib.pyplot as plt

    is_dark = vars(course_notebook)["_is_dark"]
    for cmap in ("Blues", "RdBu_r"):
        colours = plt.get_cmap(cmap)
        assert not is_dark(colours(0.5 if cmap == "RdBu_r" else 0.0))  # the light middle (or end) of the scale
        assert is_dark(colours(1.0))
    assert is_dark(plt.get_cmap("RdBu_r")(0.0))  # dark blue at the low end of a diverging scale: white text
