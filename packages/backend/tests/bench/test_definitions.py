"""What the benchmarks' headline numbers mean (fast: nothing is started or measured here)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path
from typing import Any

import pytest

from bench import auth, companion_stream
from bench.companion_stream import Burst, Bursts, Run


class Scripted(Bursts):
    """Bursts whose outcome per level is given: first-token seconds and errors."""

    def __init__(self, outcomes: dict[int, tuple[float, int]]) -> None:
        self.outcomes = outcomes
        self.measured = {}
        self.tried: list[int] = []

    def measure(self, level: int, repeats: int = 1) -> Burst:
        self.tried.append(level)
        seconds, errors = self.outcomes[level]
        run = Run(first_token=[seconds] * level, complete=[seconds] * level)
        if errors:
            run.errors["error event"] = errors
        return Burst(level, run, [seconds])


def test_sustained_means_first_token_p95_within_the_limit_not_merely_no_errors() -> None:
    # Every level completes without errors, but only up to 17 at once within 1 s.
    outcomes = {10: (0.5, 0), 25: (1.2, 0), 17: (0.9, 0), 21: (1.1, 0)}
    held, failed = Scripted(outcomes).sustained()
    assert companion_stream.LIMIT_MS == 1000
    assert held == 17
    assert failed is not None and failed.level == 21


def test_errors_fail_a_level_even_when_it_is_fast() -> None:
    outcomes = {10: (0.2, 0), 25: (0.3, 1), 17: (0.2, 0), 21: (0.2, 0)}
    bursts = Scripted(outcomes)
    held, failed = bursts.sustained()
    assert (held, failed.level if failed else None) == (21, 25)
    assert bursts.tried == [10, 25, 17, 21]


def test_when_every_level_holds_the_answer_is_a_lower_bound() -> None:
    outcomes = {level: (0.1, 0) for level in companion_stream.LEVELS}
    held, failed = Scripted(outcomes).sustained()
    assert (held, failed) == (companion_stream.LEVELS[-1], None)
    assert "at least" in companion_stream._sustained_line(held, failed)


def test_auth_bench_refuses_to_run_without_wrk(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no wrk on PATH
    with pytest.raises(SystemExit) as stopped:
        auth.main()
    assert "apt-get install -y wrk" in str(stopped.value.code)


def _soak_samples(rss_end: int, db_end: int) -> list[Any]:
    from bench.soak import Sample

    samples = [Sample(float(t), 400_000, 18, 10, 51) for t in range(0, 600, 10)]
    samples.append(Sample(600.0, rss_end, db_end, 10, 51))
    return samples


def test_soak_meets_its_aims_only_without_errors_memory_growth_or_connection_growth() -> None:
    from bench.soak import Tally, summarize

    clean = Tally(latency={"me": [0.01] * 100})
    assert "**meets the aims**" in summarize(clean, _soak_samples(420_000, 18), 600)  # +5% RSS
    assert "**misses the aims**" in summarize(clean, _soak_samples(448_000, 18), 600)  # +12% RSS
    assert "**misses the aims**" in summarize(clean, _soak_samples(400_000, 25), 600)  # connections grew
    failed = Tally(latency={"me": [0.01] * 100})
    failed.errors["GET /api/v1/users/me → 500"] = 1
    assert "**misses the aims**" in summarize(failed, _soak_samples(400_000, 18), 600)


def test_every_name_a_benchmark_imports_from_the_app_exists() -> None:
    """Benchmarks import inside functions (they run for minutes before reaching them), so a moved
    name would only fail at the end of a long run: check every `from app... import name` here."""
    missing = []
    for path in sorted((Path(__file__).parents[2] / "bench").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "app":
                module = importlib.import_module(node.module)
                missing += [
                    f"{path.name}: {node.module}.{alias.name}"
                    for alias in node.names
                    if not hasattr(module, alias.name) and not _is_module(f"{node.module}.{alias.name}")
                ]
    assert missing == []


def _is_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None
