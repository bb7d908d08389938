"""Hostile: flood the grader with questions to an earlier step's stand-in while the module is imported."""
import torch
from attention_solution_context import *  # noqa: F401,F403 - replaced by the fixture with the solution

from attention.weights import attention_weights

_scores = torch.ones(2, 2)
for _ in range(10**7):
    attention_weights(_scores, 2)
