"""An independent implementation of every step's API, on torch's own reference operations.

Two roles (see ``docs/DESIGN.md``, "Dependencies between steps: stand-ins"):

- **Oracle.** The hidden checks compare learner results with these objects, computed in the
  trusted grader process: ``from autograder import reference; reference.SelfAttention``.
- **Stand-ins.** When the grader checks step k, learner code that uses *earlier* steps' API gets
  these objects' answers instead of its own: the sandboxed child holds shells that ask the grader,
  which computes here (`autograder.sandbox.oracle`), so no reference code is ever in the child;
  the notebook path binds them in-process (`standin_namespace`). A wrong earlier step thus costs
  points in its own step only. They follow ``SPEC.md`` exactly: the same names and signatures, the
  same parameter draws (``torch.rand`` for ``W_query``, ``W_key``, ``W_value`` in that order),
  the same attributes (``.heads``, the ``mask`` buffer, ``KVCache.keys/.values``).

One module per step, each importing only earlier steps' modules.
This package never imports ``solutions/``. Importing it loads no step until a name is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from selfcheck.steps import STEPS

# API name -> the module of its step (course.yml `module`, through the generated step table)
OWNERS = {name: step.module for step in STEPS for name in step.api}

__all__ = [*OWNERS, "namespace", "standin_namespace"]


def __getattr__(name: str) -> Any:
    """``reference.<API name>``: imports that name's step module on first use."""
    if name not in OWNERS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.steps.{OWNERS[name]}"), name)


def standin_namespace(step_id: str, api: Sequence[str]) -> dict[str, object]:
    """The reference objects for one step's ``api`` names, importing only that step's module.

    ``KeyError`` names an api name the reference does not implement.
    """
    namespace: dict[str, object] = {}
    for name in api:
        if name not in OWNERS:
            raise KeyError(f"the reference has no stand-in for {step_id}.{name}")
        namespace[name] = __getattr__(name)
    return namespace


def namespace() -> dict[str, object]:
    """Every API name with its reference object (imports every step): a complete "learner module"."""
    return {name: __getattr__(name) for name in OWNERS}


def __dir__() -> list[str]:
    return sorted(__all__)
