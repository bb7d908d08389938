"""Step 8: Multi-head attention (attention/multi_head.py).

Run only this step with: pytest -k multi_head
"""

import pytest

from selfcheck.public import PUBLIC


@pytest.mark.parametrize("check", PUBLIC.for_step("multi_head"), ids=lambda check: check.name)
def test_multi_head(check, run_public_check):
    """One public check of step 8; its title in selfcheck/public/multi_head.py says what it expects."""
    run_public_check(check)
