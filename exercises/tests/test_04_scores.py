"""Step 4: Unnormalized attention scores (attention/scores.py).

Run only this step with: pytest -k scores
"""

import pytest

from selfcheck.public import PUBLIC


@pytest.mark.parametrize("check", PUBLIC.for_step("scores"), ids=lambda check: check.name)
def test_scores(check, run_public_check):
    """One public check of step 4; its title in selfcheck/public/scores.py says what it expects."""
    run_public_check(check)
