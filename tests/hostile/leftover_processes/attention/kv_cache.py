"""Hostile: leave processes behind (a new session, and a double-forked daemon), then be correct."""
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

from attention_solution_kv_cache import *  # noqa: E402,F401,F403 - replaced by the fixture with the solution
