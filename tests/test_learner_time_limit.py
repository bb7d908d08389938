"""The learner's own ``pytest`` never hangs: every call into learner code has the grader's time limit.

A broken earlier file (a hang in a call or at import) is waited for once and blocks the later steps that
import it, named; printed output is capped per step as in the grader.

`selfcheck.time_limit` in-process (SIGALRM in the main thread, the watchdog thread elsewhere), its
limit equal to ``course.yml``'s, and a real ``pytest`` run in a copy of ``exercises/`` where one step
loops forever in a call and another at import: both steps fail as too slow, each within the limit
once, and every other step still runs and passes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from autograder.course import load_course
from selfcheck import LocalSubject, run_check
from selfcheck.public import PUBLIC
from selfcheck.steps import STEPS
from selfcheck.time_limit import CALL_SECONDS, TimeLimitReached, time_limit

REPO_ROOT = Path(__file__).resolve().parents[1]
EXERCISES = REPO_ROOT / "exercises"
SOLUTIONS = REPO_ROOT / "solutions"
TOO_SLOW = f"did not finish within {CALL_SECONDS:g} s"


def test_the_learner_limit_is_the_graders() -> None:
    """One number: `CALL_SECONDS` (shipped to learners) equals ``limits.call_seconds`` of course.yml."""
    assert CALL_SECONDS == load_course().limits.call_seconds


def _loop() -> None:
    while True:
        pass


def _loop_that_swallows() -> None:
    while True:
        try:
            _loop()
        except BaseException:  # noqa: BLE001 - learner code that catches everything
            return


def _stopped_after(function: object, seconds: float) -> float:
    started = time.monotonic()
    with pytest.raises(TimeLimitReached):
        with time_limit(seconds):
            function()  # type: ignore[operator]
    return time.monotonic() - started


@pytest.mark.parametrize("function", [_loop, _loop_that_swallows])
def test_time_limit_stops_a_loop_in_the_main_thread(function: object) -> None:
    assert 0.3 <= _stopped_after(function, 0.3) < 2.0
    with time_limit(0.3):  # a quick call is untouched, and no alarm is left behind
        sum(range(100))
    time.sleep(0.6)


def test_time_limit_stops_a_loop_in_another_thread() -> None:
    """Where SIGALRM cannot be used (a thread; Windows), the watchdog stops the loop too."""
    elapsed: list[float] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            elapsed.extend(_stopped_after(f, 0.3) for f in (_loop, _loop_that_swallows))
            with time_limit(0.3):
                sum(range(100))
            time.sleep(0.6)  # nothing pending is raised later
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive() and not errors, errors
    assert len(elapsed) == 2 and all(0.3 <= e < 2.0 for e in elapsed), elapsed


def test_a_looping_call_fails_its_check_and_is_not_run_again() -> None:
    """In-process (notebooks use this path): the check fails with the grader's wording, once per call."""
    namespace = {"attention_weights": lambda scores, d_k: _loop()}
    too_slow: dict[str, str] = {}
    checks = PUBLIC.for_step("weights")
    subject = LocalSubject("weights", namespace, "the notebook", too_slow=too_slow, seconds=0.3)
    started = time.monotonic()
    outcome = run_check(checks[0], subject, 0)
    assert time.monotonic() - started < 2.0
    assert outcome.status == "failed"
    assert outcome.message.startswith("attention_weights did not finish within 0.3 s"), outcome.message
    assert subject.timed_out and list(too_slow) == ["attention_weights"]
    again = LocalSubject("weights", namespace, "the notebook", too_slow=too_slow, seconds=0.3)
    started = time.monotonic()
    outcome = run_check(checks[1], again, 0)
    assert time.monotonic() - started < 0.2
    assert "in an earlier check, so it was not run again" in outcome.message


def _looping_copy(root: Path) -> Path:
    """``exercises/`` with the solutions, except: `CrossAttention.forward` loops, causal_pairs.py loops on import.

    No later step uses either (a later step calls the learner's own earlier steps in ``pytest``).
    """
    copy = root / "learner"
    shutil.copytree(EXERCISES, copy, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "notebooks"))
    for source in (SOLUTIONS / "attention").glob("*.py"):
        shutil.copy(source, copy / "attention" / source.name)
    cross = copy / "attention" / "cross_attention.py"
    text = cross.read_text(encoding="utf-8")
    assert text.count("        return weights @ values_2") == 1
    cross.write_text(text.replace("        return weights @ values_2", "        while True:\n            pass"),
                     encoding="utf-8")
    pairs = copy / "attention" / "causal_pairs.py"
    pairs.write_text(pairs.read_text(encoding="utf-8") + "\nn = 0\nwhile n < 10:\n    n *= 1\n", encoding="utf-8")
    return copy


def test_learner_pytest_reports_a_looping_step_as_too_slow(tmp_path: Path) -> None:
    copy = _looping_copy(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(COLUMNS="120", PYTHONDONTWRITEBYTECODE="1", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--junitxml", str(tmp_path / "report.xml")],
        cwd=copy, env=env, text=True, capture_output=True, timeout=20 * CALL_SECONDS + 120,
    )
    elapsed = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode == 1, output

    durations: dict[str, float] = {}
    failures: dict[str, str] = {}
    for case in ET.parse(tmp_path / "report.xml").getroot().iter("testcase"):
        name = case.get("name", "")
        durations[name] = float(case.get("time", "0"))
        failure = case.find("failure")
        if failure is not None:
            failures[name] = failure.get("message", "") + (failure.text or "")
    assert {name.split("[")[0] for name in failures} == {"test_cross_attention", "test_causal_pairs"}, output

    total = len(PUBLIC.for_step("cross_attention"))
    cross = sorted(n for n in failures if n.startswith("test_cross_attention["))  # those that call forward
    assert 2 <= len(cross) <= total
    slow = [n for n in cross if durations[n] >= CALL_SECONDS * 0.9]
    assert len(slow) == 1 and durations[slow[0]] < CALL_SECONDS + 5, {n: durations[n] for n in cross}
    assert f"CrossAttention.forward {TOO_SLOW} (an infinite loop, or far too slow?)" in failures[slow[0]]
    for name in set(cross) - set(slow):  # the same call is not waited for again
        assert durations[name] < 2, (name, durations[name])
        assert f"CrossAttention.forward {TOO_SLOW}" in failures[name] and "not run again" in failures[name]

    pairs = [n for n in durations if n.startswith("test_causal_pairs[")]
    assert set(pairs) <= set(failures) and len(pairs) == len(PUBLIC.for_step("causal_pairs"))
    assert sum(durations[n] for n in pairs) < CALL_SECONDS + 5
    for name in pairs:
        assert f"attention/causal_pairs.py cannot be imported: importing attention/causal_pairs.py {TOO_SLOW}" in (
            failures[name])

    summary = {m.group(1): m.group(2) for m in re.finditer(r"^step \d+ (\w+): +[\d.]+ pts +(.*)$", output, re.M)}
    assert summary.pop("cross_attention") == f"{total - len(cross)}/{total} passed, {len(cross)} {TOO_SLOW}", output
    assert summary.pop("causal_pairs").startswith("attention/causal_pairs.py cannot be imported"), output
    assert len(summary) == len(STEPS) - 2 and all(line.endswith("passed") and "failed" not in line
                                                  for line in summary.values()), summary
    assert elapsed < 2 * CALL_SECONDS + 90, elapsed  # two limits, not one per check


def _copy_with_broken_earlier_files(root: Path) -> Path:
    """The solutions, except: ``context_vectors`` loops forever and ``SelfAttention`` calls it; scores.py loops
    at its top level. Steps 7, 8 (through step 7) and 13 import those files."""
    copy = root / "learner"
    shutil.copytree(EXERCISES, copy, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "notebooks"))
    for source in (SOLUTIONS / "attention").glob("*.py"):
        shutil.copy(source, copy / "attention" / source.name)
    edits = {
        "context.py": ("    return weights @ values  #",
                       "    while True:\n        pass\n    return weights @ values  #"),
        "self_attention.py": ("        return weights @ values  #",
                              "        from attention.context import context_vectors"
                              "\n\n        return context_vectors(weights, values)  #"),
    }
    for name, (old, new) in edits.items():
        path = copy / "attention" / name
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, name
        path.write_text(text.replace(old, new), encoding="utf-8")
    scores = copy / "attention" / "scores.py"
    scores.write_text(scores.read_text(encoding="utf-8") + "\nwhile True:\n    pass\n", encoding="utf-8")
    return copy


def _learner_pytest(copy: Path, *args: str) -> tuple[str, dict[str, str], float]:
    """Run ``pytest`` in ``copy``: its output, the step-by-step summary (step id -> text), and the seconds it took."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(COLUMNS="200", PYTHONDONTWRITEBYTECODE="1", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", *args], cwd=copy, env=env, text=True,
                          capture_output=True, timeout=6 * CALL_SECONDS + 120)
    output = done.stdout + done.stderr
    summary = {m.group(1): m.group(2) for m in re.finditer(r"^step \d+ (\w+): +[\d.]+ pts +(.*)$", output, re.M)}
    return output, summary, time.monotonic() - started


def test_a_broken_earlier_file_blocks_later_steps_once(tmp_path: Path) -> None:
    """A file that hangs (in a call, or at import) is waited for once and named; later steps that import it
    are reported as blocked by that file and its step, at once; the run costs one limit per broken file."""
    copy = _copy_with_broken_earlier_files(tmp_path)
    output, summary, elapsed = _learner_pytest(copy)
    assert summary.pop("scores").startswith(f"attention/scores.py cannot be imported: importing attention/scores.py "
                                            f"{TOO_SLOW}"), output
    assert summary.pop("context") == f"0/{len(PUBLIC.for_step('context'))} passed, 3 {TOO_SLOW}", output
    assert "context_vectors did not finish within" in output and "it was running context.py, line" in output
    for step in ("self_attention", "multi_head"):
        assert summary.pop(step) == "blocked by attention/context.py (step 6 context)", output
    assert summary.pop("kv_cache") in ("blocked by attention/context.py (step 6 context)",
                                       "blocked by attention/scores.py (step 4 scores)"), output
    assert all(line.endswith("passed") and "failed" not in line for line in summary.values()), summary
    assert "self_attention.py, line" not in output and "attention/self_attention.py cannot" not in output, output
    assert elapsed < 2 * CALL_SECONDS + 30, elapsed  # one limit per broken file, not one per step

    output, summary, elapsed = _learner_pytest(copy, "-k", "kv_cache")  # the broken file is met through an import
    assert summary == {"kv_cache": "blocked by attention/scores.py (step 4 scores)"}, output
    assert (f"blocked by attention/scores.py (step 4 scores): it imports that file, which cannot be imported: "
            f"importing attention/scores.py {TOO_SLOW}") in output, output
    assert elapsed < CALL_SECONDS + 25, elapsed


def test_learner_pytest_caps_printed_output_as_the_grader_does(tmp_path: Path) -> None:
    """Printing counts against the grader's per-step limit: code that prints 5,000 lines per call is told so,
    and an endless printing loop fails its check with the grader's words instead of flooding the terminal."""
    copy = _looping_copy(tmp_path)  # the solutions; the two loops above are not run here
    edits = {
        "weights.py": ("    return torch.softmax(scores / d_k**0.5, dim=-1)",
                       "    for line in range(5000):\n        print('weights line', line)\n"
                       "    return torch.softmax(scores / d_k**0.5, dim=-1)"),
        "embedding.py": ("    return layer(ids.long()).detach()",
                         "    while True:\n        print('x' * 1000)\n    return layer(ids.long()).detach()"),
    }
    for name, (old, new) in edits.items():
        path = copy / "attention" / name
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, name
        path.write_text(text.replace(old, new), encoding="utf-8")
    output, summary, elapsed = _learner_pytest(copy, "-k", "weights or embedding")
    limit = f"printed more than {load_course().limits.output_kb} KB"
    failures = re.findall(r"^(\w+): (.*File too large.*)$", output, re.M)
    assert {step for step, _ in failures} == {"weights", "embedding"}, output  # 5,000 lines a call: over the cap
    assert all(f"(Your code {limit}; printing beyond that raises an error. Print less.)" in m for _, m in failures)
    assert "passed" in summary["weights"] and "failed" in summary["weights"], output  # the first calls fit
    assert summary["embedding"].startswith("0/"), output
    assert len(output.encode()) < 4 * load_course().limits.output_kb * 1024, len(output)  # one step's cap, not more
    assert TOO_SLOW not in output and elapsed < 3 * CALL_SECONDS, elapsed  # the cap ended the loop, not the limit
