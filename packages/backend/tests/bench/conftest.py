"""The benchmark-record tests touch no database or Redis: skip the suite's per-test cleanup (and
with it the embedded services it would start)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _clean_state() -> None:
    return None
