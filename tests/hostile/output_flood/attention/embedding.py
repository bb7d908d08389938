"""Hostile: print 100 MB while being imported."""
import sys

_line = "spam " * 200_000
for _ in range(100):
    print(_line)
sys.stdout.flush()
