"""What goals and missions tell the companion's memory (app.memory), in the caller's transaction.

- A goal is a **project** memory, kept in step with the goal: rewritten when it changes, archived
  with it, restored when it is reactivated.
- Session notes become **task** memories (pruned after the retention window).
- Reflections become **personal** memories (never pruned).

Memory de-duplicates (exact and near duplicates refresh the existing memory), so writing the same
note twice stores it once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from app import memory
from app.core.deps import ResourcesDep
from app.core.embedding import Embedder
from app.core.errors import Conflict, NotFound
from app.kit.text import clip
from app.models import Goal, Mission, MissionSession
from app.models.enums import GoalStatus

MAX_CHARS = 4000  # app.memory's limit on one memory


def goal_text(goal: Goal) -> str:
    parts = [f"Goal ({goal.value_category}, {goal.goal_type}): {goal.title}."]
    if goal.description:
        parts.append(goal.description)
    if goal.target_date is not None:
        parts.append(f"Target date: {goal.target_date.isoformat()}.")
    parts.append(f"Importance {goal.importance}/5.")
    if goal.status != GoalStatus.active:
        parts.append(f"Status: {goal.status}.")
    return clip(" ".join(parts), MAX_CHARS)


def _goal_metadata(goal: Goal) -> dict[str, Any]:
    return {
        "kind": "goal",
        "goal_id": str(goal.id),
        "status": goal.status,
        "value_category": goal.value_category,
        "goal_type": goal.goal_type,
    }


class GoalMemory:
    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    async def goal_saved(self, session: AsyncSession, goal: Goal) -> None:
        """Write the goal's project memory, or rewrite the one it already has."""
        text, metadata = goal_text(goal), _goal_metadata(goal)
        if goal.memory_id is not None:
            try:
                await memory.update_memory(
                    session,
                    self._embedder,
                    user_id=goal.user_id,
                    memory_id=goal.memory_id,
                    changes={"content": text, "metadata": metadata},
                )
                return
            except (NotFound, Conflict):
                pass  # deleted by the user, or the text now equals another memory: remember anew
        result = await memory.remember(
            session,
            self._embedder,
            user_id=goal.user_id,
            tier="project",
            content=text,
            source="goal",
            metadata=metadata,
            goal_id=goal.id,
        )
        goal.memory_id = result.memory.id
        await session.flush()
        await session.refresh(goal)

    async def goal_archived(self, session: AsyncSession, goal: Goal) -> None:
        await memory.archive_goal_memories(session, user_id=goal.user_id, goal_id=goal.id)

    async def goal_restored(self, session: AsyncSession, goal: Goal) -> None:
        await memory.restore_goal_memories(session, user_id=goal.user_id, goal_id=goal.id)
        await self.goal_saved(session, goal)

    async def session_notes(self, session: AsyncSession, mission: Mission, row: MissionSession) -> None:
        if not row.notes:
            return
        await memory.remember(
            session,
            self._embedder,
            user_id=mission.user_id,
            tier="task",
            content=clip(f"Notes on the mission “{mission.title}”: {row.notes}", MAX_CHARS),
            source="mission_notes",
            metadata={"kind": "mission_notes", "mission_id": str(mission.id), "session_id": str(row.id)},
            goal_id=mission.goal_id,
        )

    async def reflection(self, session: AsyncSession, mission: Mission, row: MissionSession) -> None:
        if not row.reflection:
            return
        metadata: dict[str, Any] = {
            "kind": "mission_reflection",
            "mission_id": str(mission.id),
            "session_id": str(row.id),
            "goal_id": str(mission.goal_id),
        }
        if row.mood:
            metadata["mood"] = row.mood
        await memory.remember(
            session,
            self._embedder,
            user_id=mission.user_id,
            tier="personal",
            content=clip(f"Reflection after “{mission.title}”: {row.reflection}", MAX_CHARS),
            source="mission_reflection",
            metadata=metadata,
        )


async def get_goal_memory(resources: ResourcesDep) -> GoalMemory:
    return GoalMemory(resources.embedder)


GoalMemoryDep = Annotated[GoalMemory, Depends(get_goal_memory)]
