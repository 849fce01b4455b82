"""Shared test fixtures.

Real data lives in ../shared/data beside the checkout (see its README); tests that need it
take the ``shared_data`` fixture and are skipped, with the reason, where it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("WALKOUT_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))

# CI runs every example hypothesis draws in "ci"; developers get the faster "dev" profile.
settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder (../shared/data); skips the test where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (set WALKOUT_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


def package_root() -> Path:
    """The folder holding the ``walkout`` package this test process imported: the installed
    wheel's site-packages in CI, ``python/`` in a developer build. Subprocesses started by the
    tests put it on PYTHONPATH so they run the same build (the source tree's ``python/`` has
    no compiled core when the tests run against a wheel)."""
    import walkout

    return Path(walkout.__file__).resolve().parent.parent
