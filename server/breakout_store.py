"""A plenary's breakout groups in the database.

A group is a session of kind ``breakout`` whose parent is the plenary,
copying its floor rules; its members are the participants with a role given
for that session (so only they, and those who run the plenary's floor, may
enter it: ``server.auth.standing``). Closed groups stay, with their lists
of speakers and questions, as the record of what each group said.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select, update

from rooms.breakouts import Breakouts, Group
from rooms.roles import Role
from server import models
from server.state import Access, Store

KIND = "breakout"
_S = models.Session
_PR = models.ParticipantRole


class BreakoutsStore(Store[Breakouts]):
    kind = Breakouts
    is_held = False
    session_columns = ("breakout_ends_at", "breakout_choice")

    @classmethod
    async def load(cls, tx: Access, parts: tuple[int, ...]) -> BreakoutsStore:
        plenary = tx.session
        db = tx.db
        groups = []
        rows = (await db.scalars(select(_S).where(_S.parent_id == plenary.id, _S.closed_at.is_(None)))).all()
        members: dict[int, set[int]] = {row.id: set() for row in rows}
        if rows:
            for participant_id, session_id in await db.execute(
                select(_PR.participant_id, _PR.session_id).where(_PR.session_id.in_(list(members)))
            ):
                if session_id is not None:
                    members[session_id].add(participant_id)
        for row in rows:
            groups.append(Group(row.id, row.title, members[row.id], row.rapporteur_id))
        people = (
            await db.execute(
                select(models.Participant.id, models.Participant.delegation_id).where(
                    models.Participant.event_id == plenary.event_id
                )
            )
        ).all()
        by_delegation: dict[int, set[int]] = {}
        for participant_id, delegation_id in people:
            if delegation_id is not None:
                by_delegation.setdefault(delegation_id, set()).add(participant_id)
        for delegation_id in await db.scalars(
            select(models.Delegation.id).where(models.Delegation.event_id == plenary.event_id)
        ):
            by_delegation.setdefault(delegation_id, set())
        state = Breakouts(
            plenary.id,
            groups,
            plenary.breakout_ends_at,
            is_open_choice=bool(plenary.breakout_choice),
            participant_delegations={participant_id: delegation_id for participant_id, delegation_id in people},
            delegation_members=by_delegation,
        )
        return cls(state)

    def has_changes(self, tx: Access) -> bool:
        state = self.state
        return bool(state.added or state.changed or state.closed)

    async def save(self, tx: Access) -> None:
        state = self.state
        plenary = tx.session
        db = tx.db
        plenary.breakout_ends_at = state.ends_at
        plenary.breakout_choice = state.is_open_choice
        if state.added:
            existing = await db.scalar(select(func.count()).select_from(_S).where(_S.parent_id == plenary.id)) or 0
            for number, group in enumerate(state.added, start=existing + 1):
                row = _S(
                    event_id=plenary.event_id,
                    key=f"{plenary.key}-group-{number}"[:100],
                    title=group.name,
                    titles={},
                    descriptions={},
                    description="",
                    kind=KIND,
                    languages=plenary.languages,
                    starts_at=tx.now,
                    ends_at=state.ends_at or tx.now,
                    room=None,
                    is_hybrid=plenary.is_hybrid,
                    precedence=list(plenary.precedence),
                    time_limits=dict(plenary.time_limits),
                    point_of_order_limit=plenary.point_of_order_limit,
                    right_of_reply_limit=plenary.right_of_reply_limit,
                    is_list_closed=False,
                    waiting_order=[],
                    last_seq=0,
                    questions_moderated=plenary.questions_moderated,
                    parent_id=plenary.id,
                    rapporteur_id=group.rapporteur_id,
                )
                db.add(row)
                await db.flush()
                group.id = row.id
                db.add_all(
                    _PR(participant_id=pid, session_id=row.id, role=Role.PARTICIPANT.value) for pid in group.members
                )
            state.added.clear()
        for group in state.groups:
            if group.id in state.changed:
                await db.execute(update(_S).where(_S.id == group.id).values(rapporteur_id=group.rapporteur_id))
                await db.execute(delete(_PR).where(_PR.session_id == group.id))
                db.add_all(
                    _PR(participant_id=pid, session_id=group.id, role=Role.PARTICIPANT.value) for pid in group.members
                )
        state.changed.clear()
        for group in state.closed:
            await db.execute(
                update(_S)
                .where(_S.id == group.id)
                .values(closed_at=group.closed_at, ends_at=group.closed_at, rapporteur_id=group.rapporteur_id)
            )
        state.closed.clear()
