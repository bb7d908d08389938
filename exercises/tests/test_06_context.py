"""Step 6: Context vectors (attention/context.py).

Run only this step with: pytest -k context
"""

import pytest

from selfcheck.public import PUBLIC


@pytest.mark.parametrize("check", PUBLIC.for_step("context"), ids=lambda check: check.name)
def test_context(check, run_public_check):
    """One public check of step 6; its title in selfcheck/public/context.py says what it expects."""
    run_public_check(check)
