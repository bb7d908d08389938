"""Step 9: Cross-attention (attention/cross_attention.py).

Run only this step with: pytest -k cross_attention
"""

import pytest

from selfcheck.public import PUBLIC


@pytest.mark.parametrize("check", PUBLIC.for_step("cross_attention"), ids=lambda check: check.name)
def test_cross_attention(check, run_public_check):
    """One public check of step 9; its title in selfcheck/public/cross_attention.py says what it expects."""
    run_public_check(check)
