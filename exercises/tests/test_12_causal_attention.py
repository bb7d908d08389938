"""Step 12: Causal self-attention (attention/causal_attention.py).

Run only this step with: pytest -k causal_attention
"""

import pytest

from selfcheck.public import PUBLIC


@pytest.mark.parametrize("check", PUBLIC.for_step("causal_attention"), ids=lambda check: check.name)
def test_causal_attention(check, run_public_check):
    """One public check of step 12; its title in selfcheck/public/causal_attention.py says what it expects."""
    run_public_check(check)
