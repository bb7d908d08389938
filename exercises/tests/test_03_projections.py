"""Step 3: Query, key and value projections (attention/projections.py).

Run only this step with: pytest -k projections
"""

import pytest

from selfcheck.public import PUBLIC


@pytest.mark.parametrize("check", PUBLIC.for_step("projections"), ids=lambda check: check.name)
def test_projections(check, run_public_check):
    """One public check of step 3; its title in selfcheck/public/projections.py says what it expects."""
    run_public_check(check)
