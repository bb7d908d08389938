# Sample submission `broken`: a submission that breaks in five different ways, each confined to one
# step: weights.py calls sys.exit() (step 5), context.py has a SyntaxError (step 6),
# self_attention.py raises an unexpected exception (step 7), cross_attention.py is missing
# (step 9), causal_pairs.py loops forever when imported (step 10). Every other module is a
# correct copy of `complete_einsum` and gets full marks: a broken step costs its own points only.
"""My attention package."""
