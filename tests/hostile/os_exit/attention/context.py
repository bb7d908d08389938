"""Hostile: end the process from inside the function."""
import os


def context_vectors(weights, values):
    os._exit(0)
