"""One sweep (the worker's every 15 minutes, or ``delight nudges run --at``): plan, then deliver.

1. users signed up but never active get a state row (their sequence counts from sign-up);
2. the drop-off sequence of every user whose ``next_check_at`` has come, in batches: the rows are
   locked with SKIP LOCKED (two workers take different users), the notes inserted under the outbox's
   unique key (a second sweep inserts nothing), the sequence moved on, one commit per batch;
3. the daily notes (streak at risk, triad ready) of users who may have one due, the same way;
4. delivery of every pending note that is due: claimed with a lease and committed, then sent with
   no database connection held, then the outcomes written (sent, retry with backoff, failed, or
   suppressed if the user returned or opted out meanwhile).

A user whose planning or delivery raises is logged and left for the next sweep; the others go on.
Idempotent: a second sweep at the same moment finds nothing left to do.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import memory, planning
from app.core.jobs import transaction
from app.core.logging import get_logger
from app.core.resources import Resources
from app.kit.clock import utcnow
from app.models.enums import (
    ContentSource,
    NotificationChannel,
    NotificationKind,
    NotificationState,
    NudgeFrequency,
    SuppressionReason,
)
from app.nudges import repository
from app.nudges.activity import forget_activity
from app.nudges.channels import Outgoing, PermanentError, Providers, RetryableError, build_providers
from app.nudges.content import MODEL_PROMPT, Content, NoteContext, accept_model_text, model_request
from app.nudges.planner import RETRY_PLANNING, Plan, Planner, Tally
from app.nudges.repository import Claimed, Recipient
from app.nudges.rules import DROPOFF, STREAK_AT_RISK, NudgePrefs, in_quiet_hours, read_prefs, retry_delay
from app.nudges.tokens import unsubscribe_url

log = get_logger(__name__)

# A claimed note is this sweep's to send for this long: longer than the worker's job timeout (10 min),
# and delivery stops claiming well before that timeout.
LEASE = timedelta(minutes=15)
DELIVERY_BUDGET = timedelta(minutes=7)
SEND_CONCURRENCY = 16
COUNTED = (NotificationState.pending, NotificationState.sent)


@dataclass
class SweepReport:
    at: datetime
    dry_run: bool = False
    users: int = 0  # users whose notes were looked at
    notes: Counter[str] = field(default_factory=Counter)  # rows planned: "pending", "suppressed:cap", ...
    delivered: Counter[str] = field(default_factory=Counter)  # "sent:email", "retry", "failed", ...
    errors: int = 0  # users whose planning or delivery failed (left for the next sweep)
    rows_written: int = 0  # rows inserted or updated
    lines: list[str] = field(default_factory=list)  # what was decided and why (per user)

    def summary(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "dry_run": self.dry_run,
            "users": self.users,
            "notes": dict(sorted(self.notes.items())),
            "delivered": dict(sorted(self.delivered.items())),
            "errors": self.errors,
            "rows_written": self.rows_written,
        }


class Sweep:
    def __init__(
        self,
        resources: Resources,
        now: datetime,
        *,
        providers: Providers | None = None,
        user_id: uuid.UUID | None = None,
        dry_run: bool = False,
    ) -> None:
        self.resources = resources
        self.settings = resources.settings
        self.providers = providers or build_providers(resources.settings)
        self.now = now
        self.user_id = user_id
        self.dry_run = dry_run
        self.planner = Planner(self.settings, self.providers, now)
        self.report = SweepReport(now, dry_run)
        self.batch = self.settings.nudge_sweep_batch_size

    def _transaction(self) -> Any:
        return transaction(self.resources.sessions, self.resources.redis)

    async def run(self) -> SweepReport:
        if not self.dry_run:
            async with self._transaction() as session:
                self.report.rows_written += await repository.ensure_states(session, self.user_id)
        await self.plan_dropoffs()
        await self.plan_daily_notes()
        await self.deliver()
        return self.report

    # --- planning -------------------------------------------------------------------------------

    async def plan_dropoffs(self) -> None:
        after: tuple[datetime, uuid.UUID] | None = None
        while True:
            async with self._transaction() as session:
                users = await repository.due_recipients(
                    session, self.now, self.batch, after, user_id=self.user_id, lock=not self.dry_run
                )
                if not users:
                    return
                fetched = len(users)  # a full batch means there may be more, whatever fails below
                last = users[-1]
                after = (last.next_check_at or self.now, last.user_id)
                prefs, plans = self._all_prefs(users)
                users = [u for u in users if u.user_id in prefs]
                contexts = await self._contexts(session, users, prefs, NotificationKind.dropoff)
                tallies, _ = await self._recent(session, users, prefs)
                plans += [
                    self._safely(
                        u, self.planner.dropoff, u, prefs[u.user_id], contexts[u.user_id], tallies[u.user_id]
                    )
                    for u in users
                ]
                await self._apply(session, plans)
            if fetched < self.batch:
                return

    async def plan_daily_notes(self) -> None:
        utc_today = self.now.date()
        async with self._transaction() as session:
            standings = await planning.streak_standings(
                session, utc_today - timedelta(days=2), STREAK_AT_RISK, self.user_id
            )
            triad_users = await repository.triad_note_users(session, self.now - DROPOFF, self.user_id)
        streaks = {s.user_id: (s.length, s.last_active_on) for s in standings}
        candidates = sorted(set(streaks) | set(triad_users))
        for start in range(0, len(candidates), self.batch):
            chunk = candidates[start : start + self.batch]
            async with self._transaction() as session:
                users = await repository.recipients(session, chunk)
                prefs, plans = self._all_prefs(users, sequence=False)
                due = [
                    u
                    for u in users
                    if u.user_id in prefs
                    and self._daily_may_be_due(u, prefs[u.user_id], streaks.get(u.user_id))
                ]
                if not due and not plans:
                    continue
                tallies, handled = await self._recent(session, due, prefs)
                due = [
                    u
                    for u in due
                    if self._daily_left(u, prefs[u.user_id], streaks.get(u.user_id), handled[u.user_id])
                ]
                if not self.dry_run and due:  # lock those (skipping any another sweep holds), read again
                    due = await repository.recipients(session, [u.user_id for u in due], lock=True)
                    tallies, handled = await self._recent(session, due, prefs)
                streak_ctx = await self._contexts(session, due, prefs, NotificationKind.streak_risk)
                triad_ctx = await self._contexts(session, due, prefs, NotificationKind.triad_ready)
                plans += [
                    self._safely(
                        u,
                        self.planner.daily,
                        u,
                        prefs[u.user_id],
                        {
                            NotificationKind.streak_risk: streak_ctx[u.user_id],
                            NotificationKind.triad_ready: triad_ctx[u.user_id],
                        },
                        tallies[u.user_id],
                        streaks.get(u.user_id),
                        handled[u.user_id],
                    )
                    for u in due
                ]
                await self._apply(session, plans)

    def _daily_may_be_due(self, user: Recipient, prefs: NudgePrefs, streak: tuple[int, Any] | None) -> bool:
        """Cheap pre-check before locking: the user's local time has reached a daily note's time."""
        if prefs.frequency is NudgeFrequency.off or user.last_active_at <= self.now - DROPOFF:
            return self.user_id is not None  # a named user is always explained
        local = prefs.local(self.now).time()
        targets = [prefs.send_time] if prefs.triad_ready else []
        if streak is not None:
            targets.append(self.planner.streak_time)
        return self.user_id is not None or any(local >= target for target in targets)

    def _daily_left(
        self, user: Recipient, prefs: NudgePrefs, streak: Any, handled: set[tuple[NotificationKind, Any]]
    ) -> bool:
        """Whether a daily note this user may get is not handled yet today."""
        today = prefs.today(self.now)
        wanted = {NotificationKind.streak_risk} if streak is not None else set()
        if prefs.triad_ready:
            wanted.add(NotificationKind.triad_ready)
        return self.user_id is not None or bool(wanted - {kind for kind, day in handled if day == today})

    def _safely(self, user: Recipient, decide: Callable[..., Plan], *args: Any) -> Plan:
        """One user's decision; if it raises, the user is logged and looked at again later."""
        try:
            return decide(*args)
        except Exception as exc:  # noqa: BLE001 - per-user isolation: the batch goes on
            return self._failed(user, exc)

    def _prefs(self, user: Recipient) -> NudgePrefs:
        return read_prefs(self.settings, user.timezone, user.communication, user.custom_hours)

    def _all_prefs(
        self, users: Sequence[Recipient], *, sequence: bool = True
    ) -> tuple[dict[uuid.UUID, NudgePrefs], list[Plan]]:
        """Each user's preferences; a user whose stored preferences cannot be read is set aside
        (logged; with ``sequence``, their sequence is looked at again later) so the batch goes on."""
        found: dict[uuid.UUID, NudgePrefs] = {}
        failed: list[Plan] = []
        for user in users:
            try:
                found[user.user_id] = self._prefs(user)
            except Exception as exc:  # noqa: BLE001 - per-user isolation
                failed.append(self._failed(user, exc, sequence=sequence))
        return found, failed

    def _failed(self, user: Recipient, exc: Exception, *, sequence: bool = True) -> Plan:
        log.warning("nudge_planning_failed", user_id=str(user.user_id), error=type(exc).__name__)
        self.report.errors += 1
        state = {"next_check_at": self.now + RETRY_PLANNING} if sequence else None
        return Plan(user, state=state, failed=True)

    async def _recent(
        self, session: AsyncSession, users: Sequence[Recipient], prefs: dict[uuid.UUID, NudgePrefs]
    ) -> tuple[dict[uuid.UUID, Tally], dict[uuid.UUID, set[tuple[NotificationKind, Any]]]]:
        """Per user: the notes counting against the caps, and the daily notes already handled today."""
        utc_today = self.now.date()
        rows = await repository.recent_notes(
            session, [u.user_id for u in users], utc_today - timedelta(days=8), utc_today + timedelta(days=1)
        )
        tallies = {u.user_id: Tally() for u in users}
        handled: dict[uuid.UUID, set[tuple[NotificationKind, Any]]] = {u.user_id: set() for u in users}
        for user_id, kind, _step, day, state in rows:
            if state in COUNTED:
                tallies[user_id].by_date[day] += 1
            if kind is not NotificationKind.dropoff and day == prefs[user_id].today(self.now):
                handled[user_id].add((kind, day))
        return tallies, handled

    async def _contexts(
        self,
        session: AsyncSession,
        users: Sequence[Recipient],
        prefs: dict[uuid.UUID, NudgePrefs],
        kind: NotificationKind,
    ) -> dict[uuid.UUID, NoteContext]:
        """What each user's note may name (goals, missions and streak from planning, memory)."""
        today = {u.user_id: prefs[u.user_id].today(self.now) for u in users}
        plans = await planning.plan_highlights(session, today)
        cares = await memory.cared_about(session, list(today)) if kind is NotificationKind.dropoff else {}
        contexts: dict[uuid.UUID, NoteContext] = {}
        for user in users:
            plan = plans.get(user.user_id, planning.PlanHighlights())
            mission = plan.first if kind is NotificationKind.triad_ready else plan.smallest
            cared = cares.get(user.user_id)
            contexts[user.user_id] = NoteContext(
                goal=plan.goal if kind is NotificationKind.dropoff else None,
                goal_id=str(plan.goal_id) if plan.goal_id and kind is NotificationKind.dropoff else None,
                mission=mission.title if mission else None,
                mission_id=str(mission.id) if mission else None,
                minutes=mission.minutes if mission else None,
                streak=plan.streak if kind is NotificationKind.streak_risk else 0,
                cares=cared.content if cared else None,
                memory_id=str(cared.memory_id) if cared else None,
                display_name=user.display_name,
            )
        return contexts

    async def _apply(self, session: AsyncSession, plans: list[Plan]) -> None:
        """Write the batch's notes and state changes; if the batch fails, user by user."""
        self.report.users += len(plans)
        for plan in plans:
            if self.user_id is not None or self.dry_run:
                self.report.lines.extend(f"{plan.user.clerk_user_id}: {line}" for line in plan.lines)
        if self.dry_run:
            for plan in plans:
                for note in plan.notes:
                    self.report.notes[_label(note.state, note.reason)] += 1
            return
        try:
            async with session.begin_nested():
                await self._write(session, plans)
        except (IntegrityError, DBAPIError):
            for plan in plans:
                try:
                    async with session.begin_nested():
                        await self._write(session, [plan])
                except (IntegrityError, DBAPIError) as exc:
                    log.warning(
                        "nudge_write_failed", user_id=str(plan.user.user_id), error=type(exc).__name__
                    )
                    self.report.errors += 1

    async def _write(self, session: AsyncSession, plans: list[Plan]) -> None:
        rows = [note.row() for plan in plans for note in plan.notes]
        inserted = await repository.insert_notes(session, rows)
        for row in inserted:
            self.report.notes[_label(row["state"], row["reason"])] += 1
        updates = [{"user_id": plan.user.user_id, **plan.state} for plan in plans if plan.state is not None]
        await repository.update_states(session, updates)
        self.report.rows_written += len(inserted) + len(updates)

    # --- delivery -------------------------------------------------------------------------------

    async def deliver(self) -> None:
        if self.dry_run:
            async with self._transaction() as session:
                for note in await repository.pending_due(session, self.now, 1000, self.user_id):
                    self.report.lines.append(
                        f"deliver {note.kind.value} via {note.channel.value} (attempt {note.attempts + 1})"
                    )
            return
        started = time.monotonic()
        while time.monotonic() - started < DELIVERY_BUDGET.total_seconds():
            # The lease runs on the real clock (``--at`` may name the past) and outlives the job's
            # timeout: a claim is never taken by another sweep while this one may still send it.
            lease_until = max(self.now, utcnow()) + LEASE
            async with self._transaction() as session:
                claimed = await repository.claim_due(session, self.now, self.batch, lease_until, self.user_id)
                users = {
                    u.user_id: u for u in await repository.recipients(session, [c.user_id for c in claimed])
                }
            if not claimed:
                return
            limit = asyncio.Semaphore(SEND_CONCURRENCY)
            changes = await asyncio.gather(
                *(self._bounded(limit, note, users.get(note.user_id)) for note in claimed)
            )
            outcomes = [
                {**change, "claimed_attempts": note.attempts}
                for note, change in zip(claimed, changes, strict=True)
                if change
            ]
            async with self._transaction() as session:
                await repository.record(session, outcomes)
            self.report.rows_written += sum(1 for change in changes if change)
            sent_to = {note.user_id for note, change in zip(claimed, changes, strict=True)
                       if change.get("state") is NotificationState.sent}  # fmt: skip
            await forget_activity(self.resources.redis, sent_to)
            if len(claimed) < self.batch:
                return

    async def _bounded(
        self, limit: asyncio.Semaphore, note: Claimed, user: Recipient | None
    ) -> dict[str, Any]:
        async with limit:
            return await self._deliver_one(note, user)

    async def _deliver_one(self, note: Claimed, user: Recipient | None) -> dict[str, Any]:
        """Send one claimed note; the row's new columns (empty if the user is gone)."""
        if user is None:
            return {}
        try:
            return await self._send(note, user)
        except Exception as exc:  # noqa: BLE001 - per-note isolation; retried like a relay failure
            log.warning("notification_delivery_error", notification_id=str(note.id), error=type(exc).__name__)
            self.report.errors += 1
            return self._retry(note, type(exc).__name__)

    async def _send(self, note: Claimed, user: Recipient) -> dict[str, Any]:
        prefs = self._prefs(user)
        if (
            note.kind is NotificationKind.dropoff
            and note.sequence_anchor
            and user.last_active_at > note.sequence_anchor
        ):
            return self._suppress(note, SuppressionReason.user_returned)
        if prefs.frequency is NudgeFrequency.off or not prefs.wants(note.channel):
            return self._suppress(note, SuppressionReason.opted_out)
        if in_quiet_hours(self.now, prefs):
            self.report.delivered["postponed"] += 1
            until = prefs.quiet.end_after(prefs.local(self.now))
            return {"id": note.id, "attempts": note.attempts - 1, "next_attempt_at": until}
        content, source = await self._wording(note)
        outgoing = Outgoing(
            notification_id=note.id,
            user_id=note.user_id,
            kind=note.kind,
            channel=note.channel,
            title=content.title,
            body=content.body,
            email=user.email,
            unsubscribe_url=(
                unsubscribe_url(self.settings, note.user_id, note.channel, self.now)
                if note.channel in (NotificationChannel.email, NotificationChannel.sms)
                else None
            ),
        )
        try:
            await self.providers[note.channel].send(outgoing)
        except PermanentError as exc:
            return self._fail(note, str(exc))
        except RetryableError as exc:
            return self._retry(note, str(exc))
        self.report.delivered[f"sent:{note.channel.value}"] += 1
        return {
            "id": note.id,
            "state": NotificationState.sent,
            "sent_at": self.now,
            "next_attempt_at": None,
            "last_error": None,
            "title": content.title,
            "body": content.body,
            "content_source": source,
        }

    async def _wording(self, note: Claimed) -> tuple[Content, ContentSource]:
        """The template's text, or the model's rewrite of it when a model is configured and its text
        passes every check."""
        draft = Content(note.title, note.body, note.context)
        model = self.resources.chat.get()
        if model is None:
            return draft, ContentSource.template
        try:
            answer = await asyncio.wait_for(
                model.ainvoke(
                    [
                        SystemMessage(MODEL_PROMPT),
                        HumanMessage(model_request(note.kind, note.channel, draft)),
                    ],
                    response_format={"type": "json_object"},
                ),
                timeout=self.settings.companion_timeout_seconds,
            )
        except Exception as exc:  # noqa: BLE001 - any model failure: the template is sent
            log.warning("nudge_model_failed", notification_id=str(note.id), error=type(exc).__name__)
            return draft, ContentSource.template
        written = accept_model_text(str(answer.content), note.channel, draft)
        if written is None:
            log.info("nudge_model_text_rejected", notification_id=str(note.id))
            return draft, ContentSource.template
        return written, ContentSource.model

    def _suppress(self, note: Claimed, reason: SuppressionReason) -> dict[str, Any]:
        self.report.delivered[f"suppressed:{reason.value}"] += 1
        return {
            "id": note.id,
            "state": NotificationState.suppressed,
            "reason": reason,
            "next_attempt_at": None,
        }

    def _fail(self, note: Claimed, error: str) -> dict[str, Any]:
        self.report.delivered["failed"] += 1
        log.warning("notification_failed", notification_id=str(note.id), attempts=note.attempts, error=error)
        return {
            "id": note.id,
            "state": NotificationState.failed,
            "next_attempt_at": None,
            "last_error": error[:200],
        }

    def _retry(self, note: Claimed, error: str) -> dict[str, Any]:
        if note.attempts >= self.settings.notify_max_attempts:
            return self._fail(note, error)
        self.report.delivered["retry"] += 1
        log.info("notification_retry", notification_id=str(note.id), attempts=note.attempts, error=error)
        return {
            "id": note.id,
            "next_attempt_at": self.now + retry_delay(self.settings, note.attempts),
            "last_error": error[:200],
        }


def _label(state: Any, reason: Any) -> str:
    state = NotificationState(state)
    return state.value if reason is None else f"{state.value}:{SuppressionReason(reason).value}"


async def run_sweep(
    resources: Resources,
    now: datetime,
    *,
    user_id: uuid.UUID | None = None,
    dry_run: bool = False,
    providers: Providers | None = None,
) -> SweepReport:
    """One sweep as of ``now`` (for one user, or everyone); ``dry_run`` writes and sends nothing."""
    return await Sweep(resources, now, providers=providers, user_id=user_id, dry_run=dry_run).run()
