"""Request and response bodies for the users API."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.models.enums import NudgeFrequency

Theme = Literal["light", "dark", "system"]
_DAYS = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
# The shape of an IANA zone name ("UTC", "Europe/Paris", "America/Argentina/Buenos_Aires",
# "Etc/GMT+5"), stated in the schema; which names exist is checked against tzdata and the database.
ZoneName = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$")
]
DayName = Annotated[str, Field(json_schema_extra={"enum": sorted(_DAYS)})]


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def validate_timezone(value: str) -> str:
    """An IANA zone name such as ``Europe/Paris`` (the names tzdata ships)."""
    if value not in _timezones():
        raise ValueError(f"unknown IANA time zone {value!r}")
    return value


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    clerk_user_id: str
    email: str | None
    display_name: str | None
    timezone: str
    created_at: datetime
    updated_at: datetime


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: ZoneName | None = None

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return value if value is None else validate_timezone(value)


class HourRange(BaseModel):
    """A daily window in local time, ``HH:MM``; ``end`` before ``start`` wraps past midnight."""

    model_config = ConfigDict(extra="forbid")

    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")

    @model_validator(mode="after")
    def _not_empty(self) -> HourRange:
        if self.start == self.end:
            raise ValueError("start and end must differ")
        return self


class CustomHours(BaseModel):
    """When the user likes to work and when Eliza must stay quiet."""

    model_config = ConfigDict(extra="forbid")

    quiet_hours: HourRange | None = Field(
        default=None, description="No note is sent inside it, local time (default 22:00-08:00)"
    )
    work_hours: HourRange | None = None
    preferred_days: list[DayName] | None = Field(default=None, max_length=7)

    @field_validator("preferred_days")
    @classmethod
    def _days(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return value
        lowered = [day.lower() for day in value]
        unknown = sorted(set(lowered) - _DAYS)
        if unknown:
            raise ValueError(f"unknown day names: {', '.join(unknown)}")
        return lowered


class CommunicationPreferences(BaseModel):
    """How Delight may reach the user (docs/nudges.md); keys left unset take these defaults."""

    model_config = ConfigDict(extra="forbid")

    in_app: bool = Field(default=True, description="Notes in the app's notification centre")
    email: bool = Field(default=True, description="Email (day 4 of the re-engagement sequence)")
    sms: bool = Field(default=False, description="Text message, opt-in (day 7 of the sequence)")
    push: bool = Field(default=False, description="Web push for the daily notes, opt-in (else in-app)")
    nudge_frequency: NudgeFrequency = Field(
        default=NudgeFrequency.gentle,
        description="off: nothing is sent; gentle: half the daily and weekly caps; regular: the full caps",
    )
    preferred_send_time: str | None = Field(
        default=None,
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="Local HH:MM for nudges and the triad note (default 10:00), moved out of quiet hours",
    )
    triad_ready: bool = Field(
        default=False, description="A note at the send time when the day's triad is ready"
    )


class PreferencesOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    theme: str
    custom_hours: dict[str, Any]
    communication_preferences: dict[str, Any]
    onboarding_completed: bool
    onboarding_completed_at: datetime | None
    updated_at: datetime


class PreferencesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    theme: Theme | None = None
    custom_hours: CustomHours | None = None
    communication_preferences: CommunicationPreferences | None = None
    onboarding_completed: bool | None = None
