"""Decomposition: a goal becomes a proposed plan, saved as milestones and missions only on approval.

With a language model (``Resources.chat`` configured) the plan is the model's
structured output (function calling), validated and repaired (app/goals/plans.py); problems left
after repair get one repair round with the model; a plan still invalid, or any model failure,
answers 502 ``decomposition_failed`` and nothing is stored. Without a model, the offline planner
(app/goals/planner.py) writes the plan.

Proposals live in ``decomposition_proposals`` (status proposed | approved | rejected | expired; a
new proposal expires the goal's open ones; an open one expires after
``DECOMPOSITION_PROPOSAL_TTL_HOURS``). Approval is a conditional UPDATE from ``proposed``, so a
proposal is approved at most once even under concurrent requests, and the milestones and missions
are inserted in the same transaction.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import ratelimit
from app.core.config import Settings
from app.core.database import release
from app.core.errors import AppError, Conflict, NotFound, invalid_field
from app.core.llm import ChatModels
from app.core.logging import get_logger
from app.core.ratelimit import RedisGuard
from app.kit.clock import local_date
from app.models import DecompositionProposal, Goal, User
from app.models.enums import MissionSource, ProposalSource, ProposalStatus
from app.planning import planner, plans
from app.planning.locks import check_mission_room, open_goal
from app.planning.repository import goals as repository
from app.planning.repository import missions
from app.planning.rules import mission_row
from app.planning.schemas.goals import ApprovalIn, MilestoneOut, Plan, PlanMilestone, PlanMission, ProposalOut
from app.planning.schemas.missions import ApprovalOut, MissionOut

log = get_logger(__name__)

SYSTEM_PROMPT = """You are Eliza, a warm and practical coach inside the Delight app.
Break the user's goal into a plan:
- 3 to 7 milestones, in the order they will be reached;
- 10 to 20 missions in total, spread over the milestones;
- every mission takes 10 to 30 minutes, can be started right away, and has an energy level: low,
  medium or high (mix them so there is something for tired days and for energetic ones);
- concrete goals get measurable steps; abstract goals get exploration and reflection steps;
- titles are imperative, under 80 characters, without numbering.
Answer only by calling the function with the plan."""


class DecompositionFailed(AppError):
    status_code = 502
    code = "decomposition_failed"
    message = "The language model could not produce a valid plan; nothing was saved. Try again."


def _goal_prompt(goal: Goal, today: date) -> str:
    return json.dumps(
        {
            "title": goal.title,
            "description": goal.description,
            "type": goal.goal_type,
            "value_category": goal.value_category,
            "importance_1_to_5": goal.importance,
            "target_date": goal.target_date.isoformat() if goal.target_date else None,
            "today": today.isoformat(),
        },
        ensure_ascii=False,
    )


async def _ask(model: BaseChatModel, messages: list[BaseMessage]) -> tuple[plans.ModelPlan | None, str]:
    # stream=False: one JSON response, even though the shared chat model streams by default.
    structured = model.with_structured_output(
        plans.ModelPlan, method="function_calling", include_raw=True, stream=False
    )
    result: Any = await structured.ainvoke(messages)
    parsed = result.get("parsed")
    if isinstance(parsed, plans.ModelPlan):
        return parsed, ""
    error = result.get("parsing_error")
    return None, f"the answer did not match the plan schema ({type(error).__name__ if error else 'no plan'})"


async def draft_with_model(model: BaseChatModel, goal: Goal, today: date) -> Plan:
    """The model's plan, validated; one repair round; ``DecompositionFailed`` if still invalid."""
    messages: list[BaseMessage] = [SystemMessage(SYSTEM_PROMPT), HumanMessage(_goal_prompt(goal, today))]
    candidate, problem = await _ask(model, messages)
    problems = [problem] if candidate is None else []
    if candidate is not None:
        plan, problems = plans.validate(candidate)
        if plan is not None:
            return plan
    previous = candidate.model_dump_json() if candidate is not None else "(no valid plan)"
    repair = HumanMessage(
        f"Your previous plan was: {previous}\nIt has these problems: {'; '.join(problems)}.\n"
        "Call the function again with a corrected, complete plan."
    )
    candidate, problem = await _ask(model, [*messages, repair])
    if candidate is None:
        raise DecompositionFailed(details={"problems": [problem]})
    plan, problems = plans.validate(candidate)
    if plan is None:
        raise DecompositionFailed(details={"problems": problems})
    plan.repairs.insert(
        0, "repaired by the model after: " + "; ".join(problems or ["an invalid first answer"])
    )
    return plan


def draft_offline(goal: Goal, today: date) -> Plan:
    brief = planner.GoalBrief(
        title=goal.title,
        description=goal.description,
        goal_type=goal.goal_type,
        value_category=goal.value_category,
        importance=goal.importance,
        target_date=goal.target_date,
    )
    arc = (
        "a measurable arc (baseline, practice, target)"
        if goal.goal_type == "concrete"
        else "an exploration arc"
    )
    rationale = f"Offline plan: {arc} for a {goal.value_category} goal, built from the goal's own words."
    return plans.from_drafts(planner.plan(brief, today), rationale)


def effective_status(proposal: DecompositionProposal, now: datetime) -> str:
    if proposal.status == "proposed" and proposal.expires_at <= now:
        return "expired"
    return proposal.status


def proposal_out(proposal: DecompositionProposal, now: datetime) -> ProposalOut:
    plan = Plan.model_validate(proposal.payload)
    all_missions = [mission for milestone in plan.milestones for mission in milestone.missions]
    return ProposalOut(
        id=proposal.id,
        goal_id=proposal.goal_id,
        status=effective_status(proposal, now),
        source=proposal.source,
        model=proposal.model,
        created_at=proposal.created_at,
        expires_at=proposal.expires_at,
        decided_at=proposal.decided_at,
        milestone_count=len(plan.milestones),
        mission_count=len(all_missions),
        total_minutes=sum(mission.estimated_minutes for mission in all_missions),
        plan=plan,
    )


async def propose(
    session: AsyncSession,
    settings: Settings,
    chat: ChatModels,
    user: User,
    goal_id: uuid.UUID,
    now: datetime,
    redis: Redis | None,
    guard: RedisGuard,
) -> ProposalOut:
    goal = await open_goal(session, user.id, goal_id, for_update=False)
    # Per Clerk user, since it may call a paid model; only requests for a decomposable goal count.
    # Fails closed: without a reachable Redis, 503 rather than unlimited model calls.
    await ratelimit.limit(
        redis,
        guard,
        ratelimit.key_for(user.clerk_user_id, "decompose"),
        limit=settings.decompose_rate_limit_per_minute,
        fail_open=False,
        what="decomposition requests",
    )
    today = local_date(now, user.timezone)
    model = chat.get()
    if model is not None:
        # The model may take DECOMPOSITION_TIMEOUT_SECONDS: no pooled connection waits on it.
        await release(session)
    if model is None:
        plan, source, name = draft_offline(goal, today), ProposalSource.planner, None
    else:
        try:
            async with asyncio.timeout(settings.decomposition_timeout_seconds):
                plan = await draft_with_model(model, goal, today)
        except DecompositionFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of the external model is a 502, nothing saved
            log.warning("decomposition_model_failed", error=type(exc).__name__)
            raise DecompositionFailed(
                details={"problems": [f"model call failed ({type(exc).__name__})"]}
            ) from None
        source, name = ProposalSource.model, chat.name
    await repository.supersede_proposals(session, user.id, goal.id, now)
    proposal = await repository.insert_proposal(
        session,
        {
            "user_id": user.id,
            "goal_id": goal.id,
            "status": ProposalStatus.proposed,
            "source": source,
            "model": name,
            "payload": plan.model_dump(mode="json"),
            "expires_at": now + timedelta(hours=settings.decomposition_proposal_ttl_hours),
        },
    )
    return proposal_out(proposal, now)


async def get_proposal(
    session: AsyncSession, user: User, goal_id: uuid.UUID, proposal_id: uuid.UUID, now: datetime
) -> ProposalOut:
    proposal = await repository.get_proposal(session, user.id, goal_id, proposal_id)
    if proposal is None:
        raise NotFound("Proposal not found")
    return proposal_out(proposal, now)


async def _claim(
    session: AsyncSession, user: User, goal_id: uuid.UUID, proposal_id: uuid.UUID, status: str, now: datetime
) -> DecompositionProposal:
    proposal = await repository.decide_proposal(session, user.id, goal_id, proposal_id, status, now)
    if proposal is not None:
        return proposal
    existing = await repository.get_proposal(session, user.id, goal_id, proposal_id)
    if existing is None:
        raise NotFound("Proposal not found")
    current = effective_status(existing, now)
    raise Conflict(f"the proposal is {current}", code="proposal_not_open", details={"status": current})


async def reject(
    session: AsyncSession, user: User, goal_id: uuid.UUID, proposal_id: uuid.UUID, now: datetime
) -> ProposalOut:
    await open_goal(session, user.id, goal_id, for_update=False)
    return proposal_out(await _claim(session, user, goal_id, proposal_id, "rejected", now), now)


def apply_edits(plan: Plan, edits: ApprovalIn) -> Plan:
    """The plan with the user's removals and edits; unknown keys or nothing left → 422."""
    mission_keys = {mission.key for milestone in plan.milestones for mission in milestone.missions}
    milestone_keys = {milestone.key for milestone in plan.milestones}
    unknown = sorted(
        ({*edits.remove_missions, *(edit.key for edit in edits.mission_edits)} - mission_keys)
        | ({edit.key for edit in edits.milestone_edits} - milestone_keys)
    )
    if unknown:
        raise invalid_field(
            "keys", f"not in this proposal: {', '.join(unknown)}", summary="unknown keys in the approval"
        )
    removed = set(edits.remove_missions)
    mission_changes = {
        edit.key: edit.model_dump(exclude_unset=True, exclude={"key"}) for edit in edits.mission_edits
    }
    milestone_changes = {
        edit.key: edit.model_dump(exclude_unset=True, exclude={"key"}) for edit in edits.milestone_edits
    }
    milestones: list[PlanMilestone] = []
    for milestone in plan.milestones:
        kept = [
            PlanMission(**{**mission.model_dump(), **mission_changes.get(mission.key, {})})
            for mission in milestone.missions
            if mission.key not in removed
        ]
        if kept:
            changes = milestone_changes.get(milestone.key, {})
            milestones.append(PlanMilestone(**{**milestone.model_dump(), **changes, "missions": kept}))
    if not milestones:
        raise invalid_field(
            "remove_missions",
            "at least one mission must remain",
            summary="the approval removes every mission",
        )
    return Plan(milestones=milestones, rationale=plan.rationale, repairs=plan.repairs)


async def approve(
    session: AsyncSession,
    user: User,
    goal_id: uuid.UUID,
    proposal_id: uuid.UUID,
    edits: ApprovalIn,
    now: datetime,
    max_missions: int,
) -> ApprovalOut:
    # Lock order (docs/goals.md): the goal's row first, then the proposal and the new missions. An
    # archival holding the lock finishes first; the goal is then read archived and this is a 409,
    # instead of open missions being inserted into an archived goal.
    goal = await open_goal(session, user.id, goal_id)
    proposal = await _claim(session, user, goal_id, proposal_id, "approved", now)
    plan = apply_edits(Plan.model_validate(proposal.payload), edits)  # a 422 here rolls the claim back
    milestone_rows = await repository.insert_milestones(
        session,
        [
            {
                "user_id": user.id,
                "goal_id": goal.id,
                "position": position,
                "title": milestone.title,
                "description": milestone.description,
            }
            for position, milestone in enumerate(plan.milestones)
        ],
    )
    position = await missions.next_position(session, user.id, goal.id)
    rows: list[dict[str, Any]] = []
    for milestone, row in zip(plan.milestones, milestone_rows, strict=True):
        for mission in milestone.missions:
            rows.append(
                mission_row(
                    goal,
                    title=mission.title,
                    description=mission.description,
                    estimated_minutes=mission.estimated_minutes,
                    energy_level=mission.energy_level,
                    milestone_id=row.id,
                    position=position + len(rows),
                    source=MissionSource.decomposition,
                )
            )
    await check_mission_room(session, goal, len(rows), max_missions)  # a 409 rolls the claim back
    created = await missions.insert_missions(session, rows)
    proposal.payload = plan.model_dump(mode="json")  # what was actually saved, edits included
    await session.flush()
    return ApprovalOut(
        proposal=proposal_out(proposal, now),
        milestones=[MilestoneOut.model_validate(row) for row in milestone_rows],
        missions=[MissionOut.model_validate(mission) for mission in created],
    )
