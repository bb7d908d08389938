# Sample submission `partial_mistakes`: a learner half-way through the course. Steps 1-4 and 6 are
# right; steps 5 and 7-11 each contain one or two typical mistakes that the grader names in its
# feedback; steps 12-13 are still the untouched stubs.
"""My attention package (work in progress)."""
