"""Step 1: Words to token ids (attention/tokens.py).

Run only this step with: pytest -k tokens
"""

import pytest

from selfcheck.public import PUBLIC


@pytest.mark.parametrize("check", PUBLIC.for_step("tokens"), ids=lambda check: check.name)
def test_tokens(check, run_public_check):
    """One public check of step 1; its title in selfcheck/public/tokens.py says what it expects."""
    run_public_check(check)
