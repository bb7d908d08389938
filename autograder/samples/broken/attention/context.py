# Sample submission `broken`, step 6. BREAKS: a SyntaxError (a parenthesis that is never closed), so
# the module cannot even be imported. The grader names the file and line and gives this step 0.
"""Step 6: context vectors."""

import torch


def context_vectors(weights, values):
    """z_i = sum_j weights[i, j] * values[j]."""
    out_dtype = torch.promote_types(weights.dtype, values.dtype)
    z = torch.einsum("...qt,...td->...qd", weights.to(torch.float64), values.to(torch.float64)
    return z.to(out_dtype)
