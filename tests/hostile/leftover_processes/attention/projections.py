"""Hostile: leave processes behind (a new session, and a double-forked daemon), then be correct. In a step
that is not from scratch: a from-scratch step may not start programs (they would run without the forbidden-API ban)."""
import os
import subprocess
import sys

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)", "hostile-leftover-marker"]
subprocess.Popen(SLEEPER, start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, SLEEPER)
    os._exit(0)

from attention_solution_projections import *  # noqa: E402,F401,F403 - replaced by the fixture with the solution
