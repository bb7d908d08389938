"""Step 10: Which query-key pairs causal attention computes (attention/causal_pairs.py).

Run only this step with: pytest -k causal_pairs
"""

import pytest

from selfcheck.public import PUBLIC


@pytest.mark.parametrize("check", PUBLIC.for_step("causal_pairs"), ids=lambda check: check.name)
def test_causal_pairs(check, run_public_check):
    """One public check of step 10; its title in selfcheck/public/causal_pairs.py says what it expects."""
    run_public_check(check)
