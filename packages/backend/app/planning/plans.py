"""Plans: the offline planner's output and a model's answer, validated into one shape.

A model's answer is first repaired where the fix is unambiguous (titles trimmed, minutes clamped
to 10–30, unknown energy levels read as medium, duplicate or empty missions and empty milestones
dropped, more than 7 milestones merged into the 7th, more than 20 missions trimmed from the
largest milestones). What cannot be repaired that way (fewer than 3 milestones or 10 missions) is
reported as problems: the model gets one chance to fix them, then the proposal is rejected.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from app.planning.planner import (
    MAX_MILESTONES,
    MAX_MINUTES,
    MAX_MISSIONS,
    MIN_MILESTONES,
    MIN_MINUTES,
    MIN_MISSIONS,
    DraftMilestone,
)
from app.planning.schemas.goals import Plan, PlanMilestone, PlanMission

ENERGY_ALIASES = {
    "low": "low",
    "l": "low",
    "easy": "low",
    "light": "low",
    "medium": "medium",
    "med": "medium",
    "m": "medium",
    "moderate": "medium",
    "mid": "medium",
    "high": "high",
    "h": "high",
    "hard": "high",
    "intense": "high",
}


# The structured output asked of the model: loose on purpose, so that a near miss parses and can be
# repaired instead of failing outright.
class ModelMission(BaseModel):
    title: str = Field(description="Imperative, under 80 characters, no numbering")
    description: str = Field(default="", description="One or two sentences: what to do and why")
    estimated_minutes: int = Field(description="Between 10 and 30")
    energy_level: str = Field(description="low, medium or high")


class ModelMilestone(BaseModel):
    title: str
    description: str = ""
    missions: list[ModelMission]


class ModelPlan(BaseModel):
    """A plan for the user's goal: 3-7 ordered milestones holding 10-20 missions of 10-30 minutes."""

    milestones: list[ModelMilestone]
    rationale: str = Field(default="", description="One sentence on how the plan is built")


def _clean(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def keyed(
    milestones: Sequence[tuple[str, str, list[tuple[str, str, int, str]]]], rationale: str, repairs: list[str]
) -> Plan:
    """Number milestones ``ms1``… and missions ``m1``… (stable keys for approval edits)."""
    out: list[PlanMilestone] = []
    counter = 0
    for index, (title, description, missions) in enumerate(milestones, start=1):
        items = []
        for mission_title, mission_description, minutes, energy in missions:
            counter += 1
            items.append(
                PlanMission(
                    key=f"m{counter}",
                    title=mission_title,
                    description=mission_description,
                    estimated_minutes=minutes,
                    energy_level=energy,
                )
            )
        out.append(PlanMilestone(key=f"ms{index}", title=title, description=description, missions=items))
    return Plan(milestones=out, rationale=rationale, repairs=repairs)


def from_drafts(drafts: Sequence[DraftMilestone], rationale: str) -> Plan:
    return keyed(
        [
            (
                draft.title,
                draft.description,
                [(m.title, m.description, m.estimated_minutes, m.energy_level) for m in draft.missions],
            )
            for draft in drafts
        ],
        rationale,
        [],
    )


def validate(candidate: ModelPlan) -> tuple[Plan | None, list[str]]:
    """Repair what is unambiguous; return the plan, or the problems that remain."""
    repairs: list[str] = []
    seen: set[str] = set()
    milestones: list[tuple[str, str, list[tuple[str, str, int, str]]]] = []
    for index, raw in enumerate(candidate.milestones, start=1):
        title = _clean(raw.title, 200) or f"Milestone {index}"
        if not raw.title.strip():
            repairs.append(f"named untitled milestone {index}")
        missions: list[tuple[str, str, int, str]] = []
        for mission in raw.missions:
            mission_title = _clean(mission.title, 200)
            if not mission_title:
                repairs.append("dropped a mission without a title")
                continue
            if mission_title.casefold() in seen:
                repairs.append(f"dropped duplicate mission {mission_title!r}")
                continue
            seen.add(mission_title.casefold())
            minutes = min(MAX_MINUTES, max(MIN_MINUTES, mission.estimated_minutes))
            if minutes != mission.estimated_minutes:
                repairs.append(f"{mission_title!r}: {mission.estimated_minutes} minutes clamped to {minutes}")
            energy = ENERGY_ALIASES.get(mission.energy_level.strip().lower())
            if energy is None:
                energy = "medium"
                repairs.append(f"{mission_title!r}: energy {mission.energy_level!r} read as medium")
            missions.append((mission_title, _clean(mission.description, 2000), minutes, energy))
        if not missions:
            repairs.append(f"dropped milestone {title!r}: it had no missions")
            continue
        milestones.append((title, _clean(raw.description, 1000), missions))

    if len(milestones) > MAX_MILESTONES:
        extra = milestones[MAX_MILESTONES:]
        last_title, last_description, last_missions = milestones[MAX_MILESTONES - 1]
        merged = last_missions + [mission for _, _, missions in extra for mission in missions]
        milestones = [*milestones[: MAX_MILESTONES - 1], (last_title, last_description, merged)]
        repairs.append(f"merged {len(extra)} milestones beyond the {MAX_MILESTONES}th into it")

    total = sum(len(missions) for _, _, missions in milestones)
    if total > MAX_MISSIONS:
        repairs.append(f"trimmed {total - MAX_MISSIONS} missions to keep {MAX_MISSIONS}")
        while total > MAX_MISSIONS:
            largest = max(range(len(milestones)), key=lambda i: (len(milestones[i][2]), i))
            milestones[largest][2].pop()
            total -= 1

    problems = []
    if len(milestones) < MIN_MILESTONES:
        problems.append(
            f"the plan has {len(milestones)} milestones; it needs {MIN_MILESTONES} to {MAX_MILESTONES}"
        )
    if total < MIN_MISSIONS:
        problems.append(f"the plan has {total} missions; it needs {MIN_MISSIONS} to {MAX_MISSIONS} in total")
    if problems:
        return None, problems
    return keyed(milestones, _clean(candidate.rationale, 1000), repairs), []
