"""Step 13: Decoding with a KV cache (attention/kv_cache.py).

Run only this step with: pytest -k kv_cache
"""

import pytest

from selfcheck.public import PUBLIC


@pytest.mark.parametrize("check", PUBLIC.for_step("kv_cache"), ids=lambda check: check.name)
def test_kv_cache(check, run_public_check):
    """One public check of step 13; its title in selfcheck/public/kv_cache.py says what it expects."""
    run_public_check(check)
