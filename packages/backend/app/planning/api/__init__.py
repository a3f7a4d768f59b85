"""The planning routes: /goals, /missions and /progress."""

from app.planning.api.goals import router as goals_router
from app.planning.api.missions import router as missions_router
from app.planning.api.progress import router as progress_router

__all__ = ["goals_router", "missions_router", "progress_router"]
