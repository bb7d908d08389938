"""Step 5: Scaled softmax: attention weights (attention/weights.py).

Run only this step with: pytest -k weights
"""

import pytest

from selfcheck.public import PUBLIC


@pytest.mark.parametrize("check", PUBLIC.for_step("weights"), ids=lambda check: check.name)
def test_weights(check, run_public_check):
    """One public check of step 5; its title in selfcheck/public/weights.py says what it expects."""
    run_public_check(check)
