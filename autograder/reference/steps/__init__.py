"""One module per step; each imports only earlier steps' modules (see `autograder.reference`)."""
