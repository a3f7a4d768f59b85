"""Erasing a user is deleting the users row: every other table holding user data must cascade.

This guards the domains added later: a table that forgets ``user_id ... ON DELETE CASCADE`` fails
here, in the models and in the migrated database alike.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Base

# Tables exempt from the rule, and why. Keep this list short and explicit.
NO_USER_DATA = {
    "users": "the account itself: the root every other table cascades from",
    "webhook_deliveries": "Svix message id, event type, Clerk user id and outcome only (no payload, "
    "no email or name); kept after erasure as the idempotency record and the user.deleted tombstone",
}
NOT_OURS = {"alembic_version"}


def test_every_model_table_has_a_cascading_user_id() -> None:
    problems = []
    for table in Base.metadata.sorted_tables:
        if table.name in NO_USER_DATA:
            continue
        column = table.c.get("user_id")
        if column is None:
            problems.append(f"{table.name}: no user_id column")
            continue
        cascading = [
            fk
            for fk in column.foreign_keys
            if fk.column.table.name == "users"
            and fk.column.name == "id"
            and (fk.ondelete or "").upper() == "CASCADE"
        ]
        if not cascading:
            problems.append(f"{table.name}.user_id: no REFERENCES users(id) ON DELETE CASCADE")
        if column.nullable:
            problems.append(f"{table.name}.user_id: nullable (a NULL row would escape erasure)")
    assert problems == []


async def test_every_database_table_has_a_cascading_user_id(db: AsyncSession) -> None:
    tables = set(
        (
            await db.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
        ).scalars()
    )
    cascading = set(
        (
            await db.execute(
                text(
                    """
                    SELECT c.conrelid::regclass::text
                    FROM pg_constraint c
                    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
                    WHERE c.contype = 'f' AND c.confrelid = 'users'::regclass
                      AND array_length(c.conkey, 1) = 1 AND a.attname = 'user_id' AND a.attnotnull
                      AND c.confdeltype = 'c'
                    """
                )
            )
        ).scalars()
    )
    missing = sorted(tables - cascading - set(NO_USER_DATA) - NOT_OURS)
    assert missing == []
    assert "user_preferences" in cascading


def test_the_exemptions_exist() -> None:
    assert set(NO_USER_DATA) <= set(Base.metadata.tables)
