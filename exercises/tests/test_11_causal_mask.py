"""Step 11: Causal masks (attention/causal_mask.py).

Run only this step with: pytest -k causal_mask
"""

import pytest

from selfcheck.public import PUBLIC


@pytest.mark.parametrize("check", PUBLIC.for_step("causal_mask"), ids=lambda check: check.name)
def test_causal_mask(check, run_public_check):
    """One public check of step 11; its title in selfcheck/public/causal_mask.py says what it expects."""
    run_public_check(check)
