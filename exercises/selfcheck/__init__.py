"""Self-checks for the course "From self-attention to causal self-attention".

The check library shared by the public tests (pytest), the notebooks and the grader:
`selfcheck.subject` wraps learner code, `selfcheck.compare` asserts with clear messages,
`selfcheck.registry` registers and runs checks, `selfcheck.mistakes` is the one catalogue of common
mistakes, `selfcheck.public` holds the public checks (one module per step), `selfcheck.forbidden` and
`selfcheck.forbidden_scan` the forbidden APIs, their messages, run-time guard and static scan. For ``pytest`` only:
`selfcheck.learner_files` (a broken file blocks the later steps that import it, once) and
`selfcheck.output_cap` (the grader's output limit per step).
"""

from .compare import (
    expect_close,
    expect_equal,
    expect_handle,
    expect_inputs_unchanged,
    expect_parameters,
    expect_raises,
    expect_tensor,
)
from .errors import CallFailed, CheckFailed, LearnerError, NotImplementedYet
from .registry import Check, CheckRegistry, Outcome, check_rng, run_check, run_checks
from .subject import Handle, LocalSubject, Subject, buffers, is_module, parameters

__all__ = [
    "CallFailed", "Check", "CheckFailed", "CheckRegistry", "Handle", "LearnerError", "LocalSubject",
    "NotImplementedYet", "Outcome", "Subject", "buffers", "check_rng", "expect_close", "expect_equal",
    "expect_handle", "expect_inputs_unchanged", "expect_parameters", "expect_raises", "expect_tensor", "is_module",
    "parameters", "run_check", "run_checks",
]
