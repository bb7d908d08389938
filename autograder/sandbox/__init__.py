"""Run untrusted learner code in child processes and talk to it with plain data.

- `wire`: the message format (length-prefixed JSON + a safetensors blob; never pickle).
- `child`: what runs in the untrusted child (import router, forbidden-API guard, call server).
- `isolation`: resource limits, namespaces, privilege drop, process-tree cleanup.
- `zygote`: the warm worker that imports torch once and forks one child per step.
- `remote`: the trusted side: the zygote's client, step sessions, `RemoteSubject`.
"""
