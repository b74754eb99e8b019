"""The per-session event log: every event as sent, with its seq and recipients.

The same ``LoggedEvent`` travels on the bus, sits in the hub's queues and is
read back for replay, so one visibility rule (``Recipients.includes``)
decides what each person gets, live or replayed.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from websockets.frames import Frame, Opcode

from rooms.actor import Actor
from rooms.recipients import Recipients
from server import models


def dump(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def session_topic(session_id: int) -> str:
    return f"session.{session_id}"


def session_of_topic(topic: str) -> int | None:
    prefix, _, rest = topic.partition(".")
    return int(rest) if prefix == "session" and rest.isdigit() else None


def text_frame(text: str) -> bytes:
    """A server's (unmasked, uncompressed) WebSocket text frame."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


# Not slotted: ``frame`` is cached on the instance the room hands every socket.
@dataclass(frozen=True)
class LoggedEvent:
    session_id: int
    seq: int
    recipients: Recipients
    payload: str
    # Its type, as in the payload: what observers of the hub choose by.
    type: str = ""

    @functools.cached_property
    def frame(self) -> bytes:
        """The WebSocket frame every recipient is sent: built once, whoever the sockets."""
        return text_frame(self.payload)

    def encode(self) -> bytes:
        """The bus form: a one-line header, then the payload as sent to clients."""
        header = f"{self.session_id} {self.seq} {self.type or '-'} {self.recipients.encode()}\n"
        return header.encode() + self.payload.encode()

    @classmethod
    def decode(cls, data: bytes) -> LoggedEvent:
        header, _, payload = data.partition(b"\n")
        session_id, seq, type_, recipients = header.decode().split(" ", 3)
        return cls(int(session_id), int(seq), Recipients.decode(recipients), payload.decode(), type_)


async def read(db: AsyncSession, session_id: int, after: int, upto: int | None = None) -> list[LoggedEvent]:
    """Logged events with ``after < seq <= upto``, in order."""
    query = select(
        models.SessionEvent.seq, models.SessionEvent.recipients, models.SessionEvent.payload, models.SessionEvent.type
    ).where(models.SessionEvent.session_id == session_id, models.SessionEvent.seq > after)
    if upto is not None:
        query = query.where(models.SessionEvent.seq <= upto)
    rows = (await db.execute(query.order_by(models.SessionEvent.seq))).all()
    return [
        LoggedEvent(session_id, seq, Recipients.decode(recipients), payload, type_)
        for seq, recipients, payload, type_ in rows
    ]


async def replay(
    db: AsyncSession, session: models.Session, actor: Actor, last_seq: int, max_events: int, max_bytes: int
) -> list[str] | None:
    """What a client that saw ``last_seq`` missed, as this person may see it;
    None when that is too much (or too old) to replay: send a snapshot."""
    missed = session.last_seq - last_seq
    if last_seq < session.replayable_after_seq or missed < 0 or missed > max_events:
        return None
    texts = []
    size = 0
    for event in await read(db, session.id, last_seq):
        size += len(event.payload.encode())
        if size > max_bytes:
            return None
        if event.recipients.includes(actor):
            texts.append(event.payload)
    return texts
