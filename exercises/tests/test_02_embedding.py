"""Step 2: Token ids to embeddings (attention/embedding.py).

Run only this step with: pytest -k embedding
"""

import pytest

from selfcheck.public import PUBLIC


@pytest.mark.parametrize("check", PUBLIC.for_step("embedding"), ids=lambda check: check.name)
def test_embedding(check, run_public_check):
    """One public check of step 2; its title in selfcheck/public/embedding.py says what it expects."""
    run_public_check(check)
