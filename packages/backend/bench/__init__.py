"""Benchmarks: ``python -m bench NAME`` (or ``./scripts/bench NAME`` from the repository root)."""
