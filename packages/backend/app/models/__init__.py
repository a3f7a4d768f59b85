"""Every ORM model, imported here so Alembic and relationships see the whole schema."""

from app.db.base import Base
from app.models.user import User, UserPreferences

__all__ = ["Base", "User", "UserPreferences"]
