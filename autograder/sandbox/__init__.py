"""Run untrusted learner code in child processes and talk to it with plain data.

- `wire`: the message format (length-prefixed JSON + a safetensors blob; never pickle).
- `child`: what runs in the untrusted child (builds the package, starts the guard, call server).
- `standins`: the ``attention`` package in the child: earlier steps' stand-ins, the learner's helpers.
- `shells`: the stand-ins in the child: functions and classes that ask the grader for answers.
- `oracle`: the grader's side of the stand-ins: answers with `autograder.reference`, within bounds.
- `objstate`: a module's or object's state as plain data, and objects rebuilt from it (both sides).
- `guard`: the child's forbidden-API guard (the shipped torch function mode, installed for good).
- `ban`: the forbidden ops banned in torch's dispatcher (prepared in the zygote, bound per child).
- `isolation`: resource limits, namespaces, privilege drop, process-tree cleanup.
- `zygote`: the warm worker that imports torch once and forks one child per step.
- `remote`: the trusted side: the zygote's client, step sessions, `RemoteSubject`.
"""
