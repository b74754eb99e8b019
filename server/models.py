"""Database tables. The schema is owned by Alembic (server/migrations)."""

from __future__ import annotations

from datetime import UTC, datetime
from datetime import date as date_
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are always aware UTC in Python, whatever the engine keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    venue: Mapped[str | None] = mapped_column(String(300))
    online_url: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    # Per language, as the event file gave them (server/localized.py); title
    # and description keep one text for what has no viewer language.
    titles: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    descriptions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_delegation_members: Mapped[int] = mapped_column(Integer, default=3)
    # Bumped by every load of the event file: what a process holds of the
    # event's sessions and people (server/held.py) is stale once it moves.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Registration (rooms.registration): nominations asking for sponsorship
    # close first, the others later; None: open.
    nominations_close_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sponsored_nominations_close_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sessions: Mapped[list[Session]] = relationship(back_populates="event", order_by="Session.starts_at")


class Session(Base):
    """One item of the programme, and the home of its floor."""

    __tablename__ = "sessions"
    __table_args__ = (UniqueConstraint("event_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(40), default="meeting")
    description: Mapped[str] = mapped_column(Text, default="")
    titles: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    descriptions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # The languages the session is interpreted into; None: the event's.
    languages: Mapped[list[str] | None] = mapped_column(JSON)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    room: Mapped[str | None] = mapped_column(String(200))
    is_hybrid: Mapped[bool] = mapped_column(Boolean, default=True)
    # Floor rules (see rooms.floor.FloorRules).
    precedence: Mapped[list[str]] = mapped_column(JSON)
    time_limits: Mapped[dict[str, int | None]] = mapped_column(JSON)
    point_of_order_limit: Mapped[int | None] = mapped_column(Integer)
    right_of_reply_limit: Mapped[int | None] = mapped_column(Integer)
    is_list_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    # The ids of the waiting speaking requests, in the order they will speak:
    # one value to write when the order changes, whatever the list's length.
    waiting_order: Mapped[list[int]] = mapped_column(JSON, default=list)
    # The sequence number of the last event in this session's log.
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    # Events up to this seq were logged in an older shape: a client resuming
    # from before it gets a snapshot instead of a replay.
    replayable_after_seq: Mapped[int] = mapped_column(Integer, default=0)
    # Questions wait for a moderator before the audience sees them (rooms.questions).
    questions_moderated: Mapped[bool] = mapped_column(Boolean, default=True)
    # Breakout groups (rooms/breakouts.py): a group is a session of kind
    # "breakout" whose parent is the plenary; the plenary knows when its
    # groups end and whether members choose their group.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    rapporteur_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id", ondelete="SET NULL"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    breakout_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    breakout_choice: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # The agenda items the session takes up (rooms/agenda.py), and the one under discussion.
    item_ids: Mapped[list[int]] = mapped_column(JSON, default=list, server_default="[]")
    current_item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_items.id", ondelete="SET NULL"))
    # The committee meeting here: its chair on the session's date chairs it
    # (server/committee_roles.py).
    committee_id: Mapped[int | None] = mapped_column(ForeignKey("committees.id", ondelete="SET NULL"))

    event: Mapped[Event] = relationship(back_populates="sessions")


class AgendaItem(Base):
    """An item of the event's agenda, taken up by one or more sessions, with its floor rules."""

    __tablename__ = "agenda_items"
    __table_args__ = (UniqueConstraint("event_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    titles: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Seconds for each right of reply a delegation may make on the item, in
    # order (the UN General Assembly: 10 minutes, then 5); their number is the limit.
    reply_limits: Mapped[list[int]] = mapped_column(JSON, default=list)
    # Rights of reply are taken at the end of the day's last session on the item.
    hold_replies_to_day_end: Mapped[bool] = mapped_column(Boolean, default=False)
    # Speaking-time budgets on the item (rooms/budgets.py): per_delegation,
    # per_tier, groups; and the time the chair added to every group.
    budgets: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    budget_added_s: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Delegation(Base):
    __tablename__ = "delegations"
    __table_args__ = (UniqueConstraint("event_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    # The kind is the tier in the order of precedence (rooms.delegations.Tier).
    kind: Mapped[str] = mapped_column(String(40))
    # Per language, as the event file gave them (server/localized.py); name
    # keeps one for what has no viewer language (exports, events).
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")
    # "Unless otherwise indicated": this delegation's own member limit; None: the event's.
    member_limit: Mapped[int | None] = mapped_column(Integer)
    # The focal point, who nominates the delegation's members from a private
    # link (a hash kept, like join links); invitation: invited | accepted | declined.
    focal_name: Mapped[str | None] = mapped_column(String(200))
    focal_email: Mapped[str | None] = mapped_column(String(320))
    focal_language: Mapped[str | None] = mapped_column(String(8))
    focal_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    focal_token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    invitation: Mapped[str | None] = mapped_column(String(12))
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Participant(Base):
    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("event_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(200))
    delegation_id: Mapped[int | None] = mapped_column(ForeignKey("delegations.id", ondelete="SET NULL"))
    is_sponsored: Mapped[bool] = mapped_column(Boolean, default=False)
    # The ids of the sessions this participant may enter; NULL means all.
    session_ids: Mapped[list[int] | None] = mapped_column(JSON)
    # Only a hash of the join token is kept; the token itself is derived from
    # the secret (server/tokens.py) so links can be printed again.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_version: Mapped[int] = mapped_column(Integer, default=1)
    # Where their messages go, and the language they are written in.
    email: Mapped[str | None] = mapped_column(String(320))
    language: Mapped[str | None] = mapped_column(String(8))

    delegation: Mapped[Delegation | None] = relationship()
    roles: Mapped[list[ParticipantRole]] = relationship(cascade="all, delete-orphan")


class ParticipantRole(Base):
    """A role given for the whole event (session_id NULL) or for one session.

    Roles given for a session replace the event's roles in that session."""

    __tablename__ = "participant_roles"
    __table_args__ = (UniqueConstraint("participant_id", "session_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    # Given by a committee's membership on the session's date, not by the
    # event file: derived again at each load, and not written back by exports.
    from_committee: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class SpeakingRequest(Base):
    __tablename__ = "speaking_requests"
    __table_args__ = (Index("ix_speaking_requests_session_status", "session_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    delegation_id: Mapped[int] = mapped_column(ForeignKey("delegations.id"))
    tier: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    speaker_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id", ondelete="SET NULL"))
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id", ondelete="SET NULL"))
    speaker_name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(8))
    note: Mapped[str] = mapped_column(String(500), default="")
    is_in_room: Mapped[bool] = mapped_column(Boolean, default=False)
    removed_reason: Mapped[str | None] = mapped_column(String(500))
    # The agenda item under discussion when it was made; a right of reply's
    # own time limit (by its order on that item) and whether the chair gave
    # it beyond the limit.
    agenda_item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_items.id", ondelete="SET NULL"))
    limit_s: Mapped[int | None] = mapped_column(Integer)
    is_override: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class Speech(Base):
    __tablename__ = "speeches"
    __table_args__ = (Index("ix_speeches_session_open", "session_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("speaking_requests.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_s: Mapped[float] = mapped_column(Float, default=0.0)
    limit_s: Mapped[int | None] = mapped_column(Integer)
    language: Mapped[str | None] = mapped_column(String(8))

    request: Mapped[SpeakingRequest] = relationship()


class SessionEvent(Base):
    """The per-session event log: every change, in order, as sent to clients."""

    __tablename__ = "session_events"
    __table_args__ = (UniqueConstraint("session_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40))
    # Who may receive it (rooms.recipients.Recipients, encoded).
    recipients: Mapped[str] = mapped_column(Text, default="all")
    actor_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The message exactly as sent, encoded once.
    payload: Mapped[str] = mapped_column(Text)


# --- interpretation (interpretation/booths.py) ----------------------------------


class LanguageAssignment(Base):
    """Who works in which language for the whole event: an interpreter in a
    booth (its target language) with the languages they work from, or a
    captioner of a language."""

    __tablename__ = "language_assignments"
    __table_args__ = (UniqueConstraint("participant_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))  # interpreter | captioner
    language: Mapped[str] = mapped_column(String(8))
    works_from: Mapped[list[str]] = mapped_column(JSON, default=list)


class Booth(Base):
    """One booth of a session: who holds its mic (the mic lock is this one
    column), a pending handover, and what the booth hears for the speaker."""

    __tablename__ = "booths"
    __table_args__ = (UniqueConstraint("session_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    # The booth's target language: a channel name (``fr``, or ``ils`` for sign).
    language: Mapped[str] = mapped_column(String(8))
    live_interpreter_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id", ondelete="SET NULL"))
    live_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handover_requester_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id", ondelete="SET NULL"))
    handover_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_auto_relay: Mapped[bool] = mapped_column(Boolean, default=False)
    is_passthrough: Mapped[bool] = mapped_column(Boolean, default=False)
    relay_advice: Mapped[str | None] = mapped_column(String(8))
    # participant id (as text) -> the channel they hear: "floor" or a booth's language.
    sources: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class BoothMessage(Base):
    """Booth partners' chat."""

    __tablename__ = "booth_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    booth_id: Mapped[int] = mapped_column(ForeignKey("booths.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Caption(Base):
    """A line of live captions, kept with its time and the speech it was typed during."""

    __tablename__ = "captions"
    __table_args__ = (Index("ix_captions_session_created", "session_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(8))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    speech_id: Mapped[int | None] = mapped_column(ForeignKey("speeches.id", ondelete="SET NULL"))


class Presence(Base):
    """An open command socket, refreshed by its process: whether someone is
    connected is the same answer in every process (the database is the truth)."""

    __tablename__ = "presence"
    __table_args__ = (Index("ix_presence_session_participant", "session_id", "participant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    # Names one socket in one process, for its removal.
    connection: Mapped[str] = mapped_column(String(64), unique=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- questions (rooms.questions) -------------------------------------------------


class QuestionTopic(Base):
    """A guiding question of a session, in several languages ({lang: text})."""

    __tablename__ = "question_topics"
    __table_args__ = (UniqueConstraint("session_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)
    texts: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class Question(Base):
    __tablename__ = "questions"
    __table_args__ = (
        # Questions from the event file have a key, so loading it again finds them.
        UniqueConstraint("session_id", "key"),
        Index("ix_questions_session_state", "session_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    key: Mapped[str | None] = mapped_column(String(100))
    author_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    # The delegation the author spoke for when asking.
    delegation_id: Mapped[int | None] = mapped_column(ForeignKey("delegations.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    original_text: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("question_topics.id", ondelete="SET NULL"))
    is_anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    wants_to_ask: Mapped[bool] = mapped_column(Boolean, default=False)
    is_presubmitted: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(12))
    reject_reason: Mapped[str | None] = mapped_column(String(500))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("questions.id", ondelete="SET NULL"))
    speaking_request_id: Mapped[int | None] = mapped_column(ForeignKey("speaking_requests.id", ondelete="SET NULL"))
    # Place among the questions next up (state queued), 1 first.
    queue_rank: Mapped[int | None] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class QuestionVote(Base):
    """One participant's vote for one question (the one they voted on, even
    if it was merged since: undoing the merge gives it back)."""

    __tablename__ = "question_votes"

    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- registration (rooms.registration) -----------------------------------------


class Registration(Base):
    """A person's way to the meeting: nominated by their delegation's focal
    point (or invited by the organizer), registered by themselves, approved
    or not. Holds the personal data only organizers see."""

    __tablename__ = "registrations"

    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    # invited | nominated | pending | approved | rejected | withdrawn
    state: Mapped[str] = mapped_column(String(12))
    # None | requested | approved | declined | accepted
    sponsorship: Mapped[str | None] = mapped_column(String(12))
    reject_reason: Mapped[str | None] = mapped_column(String(500))
    # The member's own link to their registration form (a hash, like join links).
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_version: Mapped[int] = mapped_column(Integer, default=1)
    # woman | man | other | undisclosed; None: not asked or not answered.
    gender: Mapped[str | None] = mapped_column(String(12))
    accessibility: Mapped[list[str]] = mapped_column(JSON, default=list)
    accessibility_note: Mapped[str] = mapped_column(String(1000), default="")
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    # What they asked for when registering (seed 001): a question for a
    # session and/or to take the floor there; filed on that session once approved.
    question_session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="SET NULL"))
    question_text: Mapped[str | None] = mapped_column(Text)
    question_language: Mapped[str | None] = mapped_column(String(8))
    question_id: Mapped[int | None] = mapped_column(ForeignKey("questions.id", ondelete="SET NULL"))
    speak_session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="SET NULL"))
    speak_language: Mapped[str | None] = mapped_column(String(8))
    speaking_request_id: Mapped[int | None] = mapped_column(ForeignKey("speaking_requests.id", ondelete="SET NULL"))
    nominated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    participant: Mapped[Participant] = relationship()


class NoteVerbale(Base):
    """The note by which a State or organisation names its representatives."""

    __tablename__ = "notes_verbales"

    id: Mapped[int] = mapped_column(primary_key=True)
    delegation_id: Mapped[int] = mapped_column(ForeignKey("delegations.id", ondelete="CASCADE"), index=True)
    reference: Mapped[str] = mapped_column(String(200))
    dated: Mapped[date_] = mapped_column(Date)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    file_name: Mapped[str | None] = mapped_column(String(200))
    file_type: Mapped[str | None] = mapped_column(String(100))
    file_data: Mapped[bytes | None] = mapped_column(LargeBinary)


class OutboxMessage(Base):
    """An e-mail to send: written in the transaction that decided it, sent
    later with retries (server/mail.py), so a mail server that is down loses
    nothing and never holds up a command."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    # Sent once only (a reminder per delegation and deadline); None: no such rule.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    recipient: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))


class Attendance(Base):
    """One stay of a participant in a session: from the socket's opening to
    its closing (left_at None while it is open)."""

    __tablename__ = "attendance"
    __table_args__ = (Index("ix_attendance_session_participant", "session_id", "participant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The socket's key (to close the stay), and when its process last saw it
    # open: a stay whose process died ends there (server/attendance.py).
    connection: Mapped[str | None] = mapped_column(String(64), unique=True)
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- committees (rooms/committees.py) --------------------------------------------


class Committee(Base):
    """A committee of the event's organisation, whose members serve dated terms."""

    __tablename__ = "committees"
    __table_args__ = (UniqueConstraint("event_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300))
    # Per language, as the event file gave them (server/localized.py).
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)

    memberships: Mapped[list[CommitteeMembership]] = relationship(
        cascade="all, delete-orphan", order_by="CommitteeMembership.position"
    )


class CommitteeMembership(Base):
    """One State's term in a committee (Popolo: a membership with a role and dates, both included)."""

    __tablename__ = "committee_memberships"

    id: Mapped[int] = mapped_column(primary_key=True)
    committee_id: Mapped[int] = mapped_column(ForeignKey("committees.id", ondelete="CASCADE"), index=True)
    # The order of the event file.
    position: Mapped[int] = mapped_column(Integer, default=0)
    # The key of the delegation speaking for the State in this event's file.
    organisation_key: Mapped[str] = mapped_column(String(100))
    organisation_name: Mapped[str] = mapped_column(String(200))
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    role: Mapped[str] = mapped_column(String(20))  # rooms.committees.CommitteeRole
    start_date: Mapped[date_] = mapped_column(Date)
    end_date: Mapped[date_] = mapped_column(Date)
