"""Precision/recall of the offline memory extraction on the labelled set
(bench/data/companion_extraction.json).

A predicted fact matches an expected one when the kind is the same, the expected phrase occurs in the
fact's content and, for stressors, the category agrees. Each expected fact matches at most once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.companion.formation.extraction import Fact, extract_facts

DATA = Path(__file__).resolve().parent / "data" / "companion_extraction.json"


@dataclass
class Score:
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    per_kind: dict[str, list[int]] = field(default_factory=dict)  # kind → [tp, fp, fn]
    mistakes: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positives + self.false_negatives
        return self.true_positives / wanted if wanted else 1.0

    def _count(self, kind: str, slot: int) -> None:
        self.per_kind.setdefault(kind, [0, 0, 0])[slot] += 1


def load_cases() -> list[dict[str, Any]]:
    return json.loads(DATA.read_text())["cases"]  # type: ignore[no-any-return]


def _matches(fact: Fact, expected: dict[str, Any]) -> bool:
    if fact.kind != expected["kind"] or expected["match"].lower() not in fact.content.lower():
        return False
    return "category" not in expected or fact.category == expected["category"]


def score(cases: Iterable[dict[str, Any]], extractor: Callable[[str], list[Fact]] = extract_facts) -> Score:
    result = Score()
    for case in cases:
        remaining = list(case["expected"])
        for fact in extractor(case["message"]):
            hit = next((e for e in remaining if _matches(fact, e)), None)
            if hit is None:
                result.false_positives += 1
                result._count(fact.kind, 1)
                result.mistakes.append(f"extra   {fact.kind:<10} {fact.content!r}  ← {case['message']!r}")
            else:
                remaining.remove(hit)
                result.true_positives += 1
                result._count(fact.kind, 0)
        for missed in remaining:
            result.false_negatives += 1
            result._count(missed["kind"], 2)
            result.mistakes.append(f"missed  {missed['kind']:<10} {missed['match']!r}  ← {case['message']!r}")
    return result


def _section(name: str, cases: list[dict[str, Any]]) -> str:
    result = score(cases)
    expected = sum(len(c["expected"]) for c in cases)
    rows = "\n".join(
        f"| {kind} | {tp} | {fp} | {fn} |" for kind, (tp, fp, fn) in sorted(result.per_kind.items())
    )
    mistakes = "\n".join(f"    {m}" for m in result.mistakes) or "    (none)"
    return f"""
**{name}**: {len(cases)} messages, {expected} expected memories, {sum(1 for c in cases if not c["expected"])}
that must yield none — **precision {result.precision:.3f}, recall {result.recall:.3f}**
({result.true_positives} correct, {result.false_positives} spurious, {result.false_negatives} missed).

| kind | correct | spurious | missed |
|---|---|---|---|
{rows}

Mistakes:

{mistakes}
"""


def main() -> None:
    from bench import report  # noqa: PLC0415

    data = json.loads(DATA.read_text())
    everything = data["cases"] + data["held_out"]
    overall = score(everything)
    report.append(
        "companion_extraction: offline memory extraction, precision/recall",
        f"""
Labelled set `bench/data/companion_extraction.json`; command `uv run python -m bench companion_extraction`.
A predicted memory counts when its kind matches, the expected phrase is in its content and, for
stressors, the category agrees. The development set is what the rules were written against; the
held-out set was written afterwards and not used for tuning, so it is the honest estimate.

All {len(everything)} messages: precision {overall.precision:.3f}, recall {overall.recall:.3f}.
{_section("Development set", data["cases"])}
{_section("Held-out set", data["held_out"])}
""",
    )


if __name__ == "__main__":
    main()
