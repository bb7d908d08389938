"""Hostile submissions: each attacks the grader from one module; the grader survives and scores
only what the code really does. Every case asserts the score and what the learner reads.

A case is a folder in tests/hostile/: files overlaid on a copy of solutions/attention (or, with a
BASE file saying "exercises", on the learner stubs). A file ending in ``.hostile`` is installed
without that suffix (a ``conftest.py`` must not be active inside our own test tree). A line
``from attention_solution_<m> import`` in a case imports the reference module <m>, copied in
as ``attention/_solution_<m>.py``.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autograder import REPO_ROOT
from autograder.course import load_course
from autograder.grading import report
from autograder.grading.engine import Grader, SubmissionResult
from autograder.grading.intake import Submission
from autograder.hidden import load_hidden_checks
from autograder.sandbox.keyring import add_key, join_fresh_session_keyring, search_session_keyring
from autograder.sandbox.remote import Zygote
from autograder.sandbox.unprivileged import grading_mode

HOSTILE = Path(__file__).resolve().parent / "hostile"
pytestmark = pytest.mark.skipif(
    grading_mode().name == "unconfined",
    reason="no user namespaces (layers uid, mount, pid missing): kill_parent's kill(-1) would kill this test run "
           "and read_hidden would read the hidden tests; test_nonroot grades the other attacks unconfined")
COURSE = load_course()
LIMITS = COURSE.limits.model_copy(update={"call_seconds": 3.0, "submission_seconds": 120.0})
TEST_COURSE = COURSE.model_copy(update={"limits": LIMITS})
POINTS = {step.id: step.points for step in COURSE.steps}
MARKERS = ("hostile-leftover-marker",)
# What the grader's side shares with the machine while the hostile cases run (keyring_theft, sysv_snoop)
SECRET_KEY, PLANTED_KEY = "autograder-hostile-instructor-secret", "autograder-hostile-planted"
SEGMENT_TEXT = b"instructor's own shared memory"
SHARED: dict[str, int] = {}


def _build(case: Path, target: Path) -> None:
    base = (case / "BASE").read_text().strip() if (case / "BASE").exists() else "solutions"
    shutil.copytree(REPO_ROOT / base / "attention", target / "attention")
    for path in case.rglob("*"):
        if path.is_file() and path.name != "BASE":
            relative = path.relative_to(case)
            relative = relative.with_name(relative.name.removesuffix(".hostile"))
            text = path.read_text()
            for module in re.findall(r"attention_solution_(\w+)", text):
                shutil.copy(REPO_ROOT / "solutions" / "attention" / f"{module}.py",
                            target / "attention" / f"_solution_{module}.py")
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            (target / relative).write_text(re.sub(r"attention_solution_(\w+)", r"attention._solution_\1", text))


@pytest.fixture(scope="module")
def graded() -> Iterator[tuple[dict[str, SubmissionResult], Zygote, Path]]:
    root = Path(tempfile.mkdtemp(prefix="hostile-"))
    work = root / "work"
    work.mkdir()
    os.chmod(root, 0o711)
    os.chmod(work, 0o711)
    submissions = []
    for case in sorted(p for p in HOSTILE.iterdir() if p.is_dir()):
        _build(case, root / "submissions" / case.name)
        submissions.append(Submission(case.name, root / "submissions" / case.name))
    # before the worker starts: a session keyring it inherits, holding a secret; a SysV segment any
    # uid may attach (0666: only a namespace keeps it out of reach); the machine's shared memory in use
    join_fresh_session_keyring()
    add_key(SECRET_KEY, b"kerberos ticket of the instructor")
    SHARED["segment"] = _LIBC.shmget(0, 4096, 0o1666)  # IPC_PRIVATE: a new segment, found only by looking
    assert SHARED["segment"] >= 0, os.strerror(ctypes.get_errno())
    address = _attach(SHARED["segment"])
    ctypes.memmove(address, SEGMENT_TEXT, len(SEGMENT_TEXT))
    _LIBC.shmdt(ctypes.c_void_p(address))
    if os.path.isdir("/dev/shm"):  # POSIX shared memory of the grader's, readable by every uid
        SHARED["posix"] = os.open(f"/dev/shm/autograder-hostile-{os.getpid()}", os.O_RDWR | os.O_CREAT, 0o666)
        os.fchmod(SHARED["posix"], 0o666)
        os.write(SHARED["posix"], SEGMENT_TEXT)
    SHARED["shmem"] = _shmem_bytes()
    zygote = Zygote()
    zygote.start()
    out = root / "out"
    hidden = (str(out), *(str(s.path) for s in submissions))
    grader = Grader(TEST_COURSE, load_hidden_checks(), seed=2024, zygote=zygote, work_root=work, hidden_paths=hidden)
    results = grader.grade_many(submissions, jobs=2)
    assert all(isinstance(r, SubmissionResult) for r in results.values()), {
        name: repr(r) for name, r in results.items() if not isinstance(r, SubmissionResult)}
    for result in results.values():
        report.write_results(out, result, TEST_COURSE)
    yield results, zygote, out
    zygote.close()
    shutil.rmtree(root, ignore_errors=True)
    _LIBC.shmctl(SHARED["segment"], 0, None)  # IPC_RMID
    if "posix" in SHARED:
        os.close(SHARED["posix"])
        os.unlink(f"/dev/shm/autograder-hostile-{os.getpid()}")


_LIBC = ctypes.CDLL(None, use_errno=True)
_LIBC.shmat.restype = ctypes.c_void_p


def _attach(shmid: int) -> int:
    address = _LIBC.shmat(shmid, None, 0)
    if address in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), f"shmat: {os.strerror(ctypes.get_errno())}")
    return address


def _shmem_bytes() -> int:
    """Shared memory in use on the machine (SysV segments and tmpfs, in every namespace)."""
    line = next(ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("Shmem:"))
    return int(line.split()[1]) * 1024


def _step_outputs(result: SubmissionResult, step: str) -> str:
    return "\n".join(t.output for t in result.tests if t.step == step)


def _only_step_lost(result: SubmissionResult, step: str) -> None:
    """Every other step has full marks: the attack cost its own step only."""
    for other, points in POINTS.items():
        if other != step:
            assert result.step_score(other) == points, (other, _step_outputs(result, other))


CASES = {
    # case: (attacked step, expected score of that step (None: strictly between 0 and full), text shown)
    "loop_at_import": ("scores", 0.0, "importing attention/scores.py did not finish within 3 s"),
    "memory_bomb": ("weights", 0.0, "attention/weights.py could not be imported: MemoryError"),
    "os_exit": ("context", 0.0, "exited with status 0"),
    "sys_exit": ("self_attention", None, "raised SystemExit"),
    "forged_results": ("tokens", None, "vocabulary"),
    "monkeypatch_compare": ("causal_mask", 0.0, "polarity is inverted"),  # its functions compute nothing
    "always_equal": ("causal_pairs", 0.0, "should be a"),
    "hardcoded": ("causal_attention", None, "values differ"),
    "output_flood": ("embedding", 0.0, "printed more than 256 KB"),
    "forbidden_hidden_call": ("causal_attention", 0.0, "must be implemented from scratch"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_attack_costs_its_own_step_and_is_explained(graded, case: str) -> None:  # noqa: ANN001
    results, _, _ = graded
    step, expected, shown = CASES[case]
    result = results[case]
    _only_step_lost(result, step)
    asked = [t for t in result.tests if t.step == step and t.check.startswith("question_")]
    assert all(t.passed for t in asked)  # the attack costs the step's code, never its concept questions
    got = result.step_score(step) - sum(t.score for t in asked)
    if expected is None:
        assert 0 < got < POINTS[step], _step_outputs(result, step)
    else:
        assert got == expected, _step_outputs(result, step)
    assert shown in _step_outputs(result, step)


SDPA = "torch.nn.functional.scaled_dot_product_attention"
FORBIDDEN_CASES = {
    # case (its attention/self_attention.py reaches a forbidden API): (API named in every test's output, by)
    "forbidden_getattr_concat": (SDPA, "uses"),  # the static scan folds the constant strings
    "forbidden_runtime_name": (SDPA, "called"),  # run time only, and only on batched inputs
    "forbidden_aten": ("torch.ops.aten._scaled_dot_product_flash_attention_for_cpu", "called"),
    "forbidden_c_nn": (SDPA, "called"),
    "forbidden_importlib": (SDPA, "called"),
    "forbidden_attrgetter": (SDPA, "called"),
    "forbidden_bound_at_import": (SDPA, "called"),
    "forbidden_partial": (SDPA, "called"),
    "forbidden_vf": ("torch.ops.aten._scaled_dot_product_attention_math", "called"),
    "forbidden_mha_subclass": ("torch.nn.MultiheadAttention", "called"),
    "forbidden_mha_forward": ("torch.nn.functional.multi_head_attention_forward", "called"),
    "forbidden_thread": (SDPA, "called"),
    "forbidden_in_helper_module": (SDPA, "uses"),  # attention/utils.py: the scan reads the modules a step imports
    "forbidden_unused_branch": (SDPA, "uses"),  # the policy: a reference that can reach the API counts
    # Below, torch-function modes are switched off or popped: the dispatcher ban (sandbox/ban.py) decides.
    "forbidden_disabled_in_helper": (SDPA, "uses"),  # the case: F.<sdpa> under DisableTorchFunction, helper
    "forbidden_disable_torch_function": (SDPA, "called"),
    "forbidden_mode_popped": (SDPA, "called"),  # every mode popped, then torch.ops.aten
    "forbidden_exec": (SDPA, "called"),  # exec of source built at run time
    "forbidden_decompose": ("torch.ops.aten._scaled_dot_product_attention_math", "called"),  # importlib + decompose
    "forbidden_mha_weights": ("torch.nn.MultiheadAttention", "called"),  # need_weights=True: plain ops in torch
    "forbidden_undo_ban": ("torch.ops.aten._scaled_dot_product_attention_math", "called"),  # gc, tracer, rebind; vmap
    "forbidden_in_init": (SDPA, "called"),  # attention/__init__.py, torch._C._nn by a run-time name
    "forbidden_subprocess": ("subprocess.Popen", "called"),  # a fresh Python would have no ban: refused
}


@pytest.mark.parametrize("case", sorted(FORBIDDEN_CASES))
def test_a_forbidden_api_zeroes_the_whole_step_and_every_test_says_why(graded, case: str) -> None:  # noqa: ANN001
    """However the kernel is reached, and in however few tests, the step scores 0 and each test names the API."""
    result = graded[0][case]
    api, verb = FORBIDDEN_CASES[case]
    _only_step_lost(result, "self_attention")
    tests = [t for t in result.tests if t.step == "self_attention"]
    assert result.step_score("self_attention") == 0
    for test in tests:
        assert f"{verb} {api}" in test.output and "from scratch" in test.output, test.output


def test_naming_a_forbidden_api_in_docstrings_comments_and_text_costs_nothing(graded) -> None:  # noqa: ANN001
    result = graded[0]["forbidden_named_only"]
    assert result.score == 100, [t.output for t in result.tests if not t.passed]


def test_a_conftest_changes_nothing(graded) -> None:  # noqa: ANN001
    assert (HOSTILE / "conftest_stubs" / "conftest.py.hostile").exists()
    result = graded[0]["conftest_stubs"]
    assert result.score == 0
    assert all(("not answered" if t.check.startswith("question_") else "not implemented yet") in t.output
               for t in result.tests)


def test_forged_results_are_ignored_and_cannot_be_written(graded) -> None:  # noqa: ANN001
    results, _, out = graded
    result = results["forged_results"]
    assert result.score == 100 - POINTS["tokens"] + result.step_score("tokens") < 100
    written = json.loads((out / "forged_results" / "results.json").read_text())
    assert written["score"] == result.score
    assert not Path("/autograder/results/results.json").exists()
    assert not (REPO_ROOT / "grades" / "results.json").exists()


def test_attacks_that_fail_leave_correct_code_fully_graded(graded) -> None:  # noqa: ANN001
    results, zygote, _ = graded
    for case in ("kill_parent", "leftover_processes", "read_hidden", "network_attempt"):
        assert results[case].score == 100, (case, [t.output for t in results[case].tests if not t.passed])
    if grading_mode().name != "unconfined":  # a sandbox uid or a PID namespace: no signal reaches the grader
        assert zygote.restarts == 0


def test_nothing_secret_reaches_the_learner(graded) -> None:  # noqa: ANN001
    results, _, out = graded
    feedback = "\n".join(p.read_text() for p in out.rglob("results.json"))
    assert "FOUND" not in feedback
    hidden_source = (REPO_ROOT / "autograder" / "hidden" / "tokens.py").read_text()
    for line in {ln.strip() for ln in hidden_source.splitlines() if len(ln.strip()) > 30}:
        assert line not in feedback


def test_no_process_outlives_its_step(graded) -> None:  # noqa: ANN001
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        alive = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                except OSError:
                    continue
                if any(marker.encode() in cmdline for marker in MARKERS):
                    alive.append(int(entry))
        if not alive:
            return
        time.sleep(0.2)
    pytest.fail(f"processes left behind: {alive}")


def test_steps_graded_side_by_side_stay_independent(graded) -> None:  # noqa: ANN001
    """Graded alone with two jobs, a submission's steps run on two lanes (two uids, two copies) at
    once: an attack on one lane (kill every process of its uid, leave processes behind, exit)
    still costs only its own step, exactly as when the steps ran one after another."""
    results, zygote, _ = graded
    root = Path(tempfile.mkdtemp(prefix="hostile-lanes-"))
    os.chmod(root, 0o711)
    try:
        names = ("kill_parent", "leftover_processes", "os_exit")
        grader = Grader(TEST_COURSE, load_hidden_checks(), seed=2024, zygote=zygote, work_root=root)
        for name in names:
            _build(HOSTILE / name, root / "submissions" / name)
            alone = grader.grade_many([Submission(name, root / "submissions" / name)], jobs=2)[name]
            assert isinstance(alone, SubmissionResult), alone
            assert {s: alone.step_score(s) for s in POINTS} == {s: results[name].step_score(s) for s in POINTS}, name
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_submission_can_neither_read_the_graders_keys_nor_leave_its_own(graded) -> None:  # noqa: ANN001
    """keyring_theft searches every keyring for the grader's key and plants one; its next step looks for it."""
    result = graded[0]["keyring_theft"]
    assert result.score == 100, [t.output for t in result.tests if not t.passed]
    assert "keyring" in result.isolation
    assert search_session_keyring(SECRET_KEY) is not None  # the grader's own key is still there, for the grader
    assert search_session_keyring(PLANTED_KEY) is None
    assert PLANTED_KEY not in Path("/proc/keys").read_text()  # every key this process may see


def test_a_submission_cannot_touch_shared_memory_nor_leave_segments_behind(graded) -> None:  # noqa: ANN001
    """sysv_snoop reads and writes every segment it finds and leaves three 64 MiB segments; they die with it."""
    result = graded[0]["sysv_snoop"]
    assert result.score == 100, [t.output for t in result.tests if not t.passed]
    assert "ipc" in result.isolation
    address = _attach(SHARED["segment"])
    try:
        assert ctypes.string_at(address, len(SEGMENT_TEXT)) == SEGMENT_TEXT
    finally:
        _LIBC.shmdt(ctypes.c_void_p(address))
    if "posix" in SHARED:
        assert os.pread(SHARED["posix"], 64, 0) == SEGMENT_TEXT
    listed = Path("/proc/sysvipc/shm").read_text()
    assert not [key for key in range(0x48535410, 0x48535413) if f"{key:10d}" in listed]
    deadline = time.monotonic() + 10
    while _shmem_bytes() > SHARED["shmem"] + 96 * 2**20 and time.monotonic() < deadline:
        time.sleep(0.2)  # a dead IPC namespace is freed asynchronously
    assert _shmem_bytes() <= SHARED["shmem"] + 96 * 2**20, "the 192 MiB of segments outlived the grading"


def test_a_submission_cannot_fill_the_disk(graded) -> None:  # noqa: ANN001
    """disk_flood writes 256 KiB files (the per-file cap) everywhere it can: all it may write, in all,
    is the child's capped scratch space (in memory), gone with it."""
    result = graded[0]["disk_flood"]
    assert result.score == 100, [t.output for t in result.tests if not t.passed]
    assert "scratch" in result.isolation
    for folder in ("/tmp", "/var/tmp", "/dev/shm", os.path.expanduser("~")):
        assert not [name for name in os.listdir(folder) if name.startswith("flood-")], folder


REFERENCE_FILES = sorted((REPO_ROOT / "autograder" / "reference").rglob("*.py"))
HIDDEN_FILES = sorted((REPO_ROOT / "autograder" / "hidden").rglob("*.py"))


def test_learner_code_finds_no_reference_or_hidden_code_in_its_process(graded) -> None:  # noqa: ANN001
    """A step-13 module hunts its process (the stand-ins' source, bytecode, constants, closures and globals,
    gc, frames, a failing stand-in's traceback, sys.modules, importlib) for the reference of steps 1-12, the
    hidden checks and their expected values, and raises with whatever it found: nothing."""
    results, _, out = graded
    result = results["steal_reference"]
    _only_step_lost(result, "kv_cache")
    outputs = _step_outputs(result, "kv_cache")
    assert "HUNT-DONE" in outputs and "; found 0: " in outputs, outputs
    written = (out / "steal_reference" / "results.json").read_text()
    assert "HUNT-DONE" in written
    for path in (*REFERENCE_FILES, *HIDDEN_FILES):
        for line in {ln.strip() for ln in path.read_text().splitlines() if len(ln.strip()) > 25}:
            assert line not in written, (path.name, line)
    for marker in ("autograder/reference", "autograder.reference", "autograder/hidden", "autograder.hidden"):
        assert marker not in written, marker


def test_abusing_the_stand_ins_costs_an_exception_in_the_learners_process_and_nothing_more(graded) -> None:  # noqa: ANN001
    """Giant, malformed and forged requests to the grader's stand-ins (through their API and written by hand on
    the child's connection) are each refused with an exception raised in learner code; the grader carries on."""
    result = graded[0]["oracle_abuse"]
    _only_step_lost(result, "cross_attention")
    assert 0 < result.step_score("cross_attention") < POINTS["cross_attention"]
    outputs = _step_outputs(result, "cross_attention")
    assert "ABUSE refused 15 of 15; otherwise: []" in outputs, outputs


def test_flooding_or_breaking_the_stand_ins_costs_only_its_own_step(graded) -> None:  # noqa: ANN001
    results, zygote, _ = graded
    flood = results["oracle_flood"]
    _only_step_lost(flood, "context")
    assert flood.step_score("context") == 0
    shown = _step_outputs(flood, "context")  # the cap (tests/test_oracle.py), or this test's 3 s call limit first
    assert "asked the stand-ins of earlier steps more than 2,000 times" in shown or "did not finish within" in shown
    malformed = results["oracle_malformed"]
    _only_step_lost(malformed, "self_attention")
    assert malformed.step_score("self_attention") == 0
    assert "ended during importing attention/self_attention.py" in _step_outputs(malformed, "self_attention")
    assert zygote.restarts == 0
