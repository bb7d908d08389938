# Sample submission `complete_einsum`: a complete, correct submission written in a different style
# from the reference solutions (einsum, a hand-written softmax, float64 inside, loops where a
# learner might write them). It scores full marks: grading checks behaviour, not style.
"""My attention package (all 13 steps)."""
