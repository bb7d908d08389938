"""Step 7: A self-attention module (attention/self_attention.py).

Run only this step with: pytest -k self_attention
"""

import pytest

from selfcheck.public import PUBLIC


@pytest.mark.parametrize("check", PUBLIC.for_step("self_attention"), ids=lambda check: check.name)
def test_self_attention(check, run_public_check):
    """One public check of step 7; its title in selfcheck/public/self_attention.py says what it expects."""
    run_public_check(check)
