"""Hostile: send the grader a message it cannot parse (JSON nested far too deep) on the stand-ins' connection."""
import struct
import sys

from attention_solution_self_attention import *  # noqa: F401,F403 - replaced by the fixture with the solution

_conn = sys.modules["autograder.sandbox.shells"].CLIENT.conn
_body = b'{"oracle": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
_conn.sendall(struct.pack("!II", len(_body), 0) + _body)
sys.modules["autograder.sandbox.wire"].recv_message(_conn)
