"""The learner's own ``pytest`` flags a forbidden API with the grader's message (`selfcheck.forbidden`).

A real ``pytest`` run in a copy of ``exercises/`` with the solutions, where step 7's module calls
``F.scaled_dot_product_attention`` by a name built at run time (only the run-time guard sees it)
and step 9's module imports a helper module that names it (the static scan of the modules a step
imports sees it). Both steps fail every check with the grader's own words; the others pass.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from selfcheck.forbidden import called_message, uses_message
from selfcheck.public import PUBLIC

REPO_ROOT = Path(__file__).resolve().parents[1]
SDPA = "torch.nn.functional.scaled_dot_product_attention"

RUNTIME_CALL = '''

_forward = SelfAttention.forward


def _shortcut_forward(self, x):
    import torch.nn.functional as F

    getattr(F, "".join(reversed("noitnetta_tcudorp_tod_delacs")))(x, x, x)  # built at run time
    return _forward(self, x)


SelfAttention.forward = _shortcut_forward
'''
HELPER = '''"""A helper module that reaches the shortcut."""

import torch.nn.functional as F


def attend(q, k, v):
    return F.scaled_dot_product_attention(q, k, v)
'''


def _learner_copy(root: Path) -> Path:
    copy = root / "learner"
    shutil.copytree(REPO_ROOT / "exercises", copy, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache",
                                                                                  "notebooks"))
    for source in (REPO_ROOT / "solutions" / "attention").glob("*.py"):
        shutil.copy(source, copy / "attention" / source.name)
    step_7 = copy / "attention" / "self_attention.py"
    step_7.write_text(step_7.read_text(encoding="utf-8") + RUNTIME_CALL, encoding="utf-8")
    step_9 = copy / "attention" / "cross_attention.py"
    step_9.write_text(step_9.read_text(encoding="utf-8") + "\nfrom attention.utils import attend  # noqa: E402, F401\n",
                      encoding="utf-8")
    (copy / "attention" / "utils.py").write_text(HELPER, encoding="utf-8")
    return copy


def test_learner_pytest_names_a_forbidden_api_as_the_grader_does(tmp_path: Path) -> None:
    copy = _learner_copy(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(COLUMNS="120", PYTHONDONTWRITEBYTECODE="1", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "--junitxml", str(tmp_path / "report.xml")],
                          cwd=copy, env=env, text=True, capture_output=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    failures: dict[str, str] = {}
    names: list[str] = []
    for case in ET.parse(tmp_path / "report.xml").getroot().iter("testcase"):
        names.append(case.get("name", ""))
        failure = case.find("failure")
        if failure is not None:
            failures[case.get("name", "")] = failure.get("message", "") + (failure.text or "")
    # multi_head too: in pytest a later step runs the learner's own earlier step (the grader serves a stand-in)
    assert {name.split("[")[0] for name in failures} == {"test_self_attention", "test_multi_head",
                                                         "test_cross_attention"}, output

    called = called_message([SDPA], "attention/self_attention.py", "self_attention")  # what the grader writes
    step_7 = [n for n in names if n.startswith("test_self_attention[")]
    assert len(step_7) == len(PUBLIC.for_step("self_attention"))
    # every check from the first one that runs the call on fails (one that never calls forward cannot know)
    failed_7 = [n for n in step_7 if n in failures]
    assert len(failed_7) >= len(step_7) - 1, output
    assert all(called in failures[n] for n in failed_7), {n: failures[n] for n in failed_7}

    uses = uses_message([f"attention/utils.py uses {SDPA} (line 7)"], SDPA, "cross_attention")
    step_9 = [n for n in names if n.startswith("test_cross_attention[")]
    assert step_9 and all(uses in failures[n] for n in step_9), {n: failures.get(n) for n in step_9}
    assert "Step 'cross_attention' must be implemented from scratch" in uses  # the message the grader shows
