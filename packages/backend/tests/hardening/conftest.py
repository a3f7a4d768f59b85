"""Fixtures of the hardening tests (limits, failure behaviour, shutdown, the fuzzer)."""

from __future__ import annotations

from tests.auth.conftest import api

__all__ = ["api"]
