"""Users: the Clerk-verified caller (``CurrentUser``), profile and preferences, export and
erasure. Other domains register their part of the export and erasure here
(``export_section``, ``erase_hook``)."""

from app.users.data import erase_hook, export_pages, export_section
from app.users.deps import Claims, CurrentUser
from app.users.limits import per_user_rate_limit
from app.users.repository import deleted_in_clerk, get_by_clerk_id, upsert_from_clerk
from app.users.router import router
from app.users.schemas import CommunicationPreferences, PreferencesUpdate
from app.users.service import erase_user, update_preferences

__all__ = [
    "Claims",
    "CommunicationPreferences",
    "CurrentUser",
    "PreferencesUpdate",
    "deleted_in_clerk",
    "erase_hook",
    "erase_user",
    "export_pages",
    "export_section",
    "get_by_clerk_id",
    "per_user_rate_limit",
    "router",
    "update_preferences",
    "upsert_from_clerk",
]
