"""Every ORM model, imported here so Alembic and relationships see the whole schema."""

from app.db.base import Base
from app.models.companion import Conversation, EmotionalState, Message, ModelUsage
from app.models.goals import DecompositionProposal, Goal, GoalMilestone
from app.models.memory import Memory, MemoryTier
from app.models.missions import DailyTriad, Mission, MissionEvent, MissionSession
from app.models.nudges import Notification, NudgeState
from app.models.progress import DailyProgress, EssenceTransaction, Streak
from app.models.user import User, UserPreferences
from app.models.webhook import WebhookDelivery

__all__ = [
    "Base",
    "Conversation",
    "DailyProgress",
    "DailyTriad",
    "DecompositionProposal",
    "EmotionalState",
    "EssenceTransaction",
    "Goal",
    "GoalMilestone",
    "Memory",
    "MemoryTier",
    "Message",
    "Mission",
    "MissionEvent",
    "MissionSession",
    "ModelUsage",
    "Notification",
    "NudgeState",
    "Streak",
    "User",
    "UserPreferences",
    "WebhookDelivery",
]
