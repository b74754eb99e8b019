"""E-mail through the outbox (server/mail.py), sent to a real SMTP server
running in this process (aiosmtpd), on SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from server import models, tokens
from server.i18n import PAGE_LANGUAGES
from server.mail import KINDS, LAST_RETRY, Mailer, SmtpServer, enqueue, render
from server.mail_links import marker
from tests.conftest import SECRET, free_port

NOW = datetime(2023, 8, 20, 9, 0, tzinfo=UTC)
CONTEXT = {
    "event_title": "Cinquième Conférence d'examen",
    "delegation_name": "Cambodge",
    "focal_name": "Chan Sophea",
    "nomination_url": "https://tribune.example/nominate/x",
    "registration_url": "https://tribune.example/register/x",
    "join_url": "https://tribune.example/join/x",
    "deadline": "15 septembre 2023, 17:00",
    "deadline_sponsored": "1 septembre 2023, 17:00",
    "name": "Sok Dara & <associés>",
    "reason": "Absent de la note verbale",
}


class Inbox:
    """aiosmtpd's handler: every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    controller.inbox = inbox
    yield controller
    controller.stop()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def mailer(db, url: str, clock: Clock) -> Mailer:
    return Mailer(
        db,
        smtp_url=url,
        mail_from="Secretariat <isu@example.org>",
        secret=SECRET,
        base_url="https://tribune.example",
        clock=clock,
    )


async def queue(db, **overrides) -> None:
    fields = {
        "event_id": None,
        "kind": "approved",
        "to": "dara@example.org",
        "language": "ar",
        "context": {"event_title": "المؤتمر", "name": "سوك دارا", "join_url": "https://x/join/y"},
        "now": NOW,
    } | overrides
    async with db() as s, s.begin():
        await enqueue(await s.connection(), **fields)


@pytest.mark.parametrize("language", PAGE_LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_message_in_every_language(kind, language):
    subject, body = render(kind, language, CONTEXT)
    assert subject and "\n" not in subject and "{" not in body and "%(" not in body
    assert "Sok Dara & <associés>" in body or kind in ("invitation", "reminder")  # written as typed: plain text
    without = render(
        kind,
        language,
        {key: "" if key in ("deadline", "deadline_sponsored", "reason") else value for key, value in CONTEXT.items()},
    )
    assert without[1]
    if language == "fr" and kind == "approved":
        assert "approuvée" in subject


async def test_a_message_is_sent_in_its_language_with_its_link_derived(db, world, smtp):
    async with db() as s:
        peru = await s.get(models.Participant, world.participants["peru"])
    await queue(
        db,
        context={"event_title": "المؤتمر", "name": "سوك دارا", "join_url": marker("join", peru.id)},
        event_id=world.event_id,
    )
    async with db() as s:
        stored = await s.scalar(select(models.OutboxMessage))
        assert "/join/" not in stored.body  # no private link at rest
    clock = Clock()
    assert await mailer(db, f"smtp://127.0.0.1:{smtp.port}", clock).send_due() == 1
    [message] = smtp.inbox.messages
    assert message["To"] == "dara@example.org" and message["From"] == "Secretariat <isu@example.org>"
    assert "المؤتمر" in message["Subject"]
    body = message.get_content()
    link = "https://tribune.example/join/" + tokens.join_token(SECRET, "test-event", "peru", 1)
    assert "سوك دارا" in body and link in body
    async with db() as s:
        stored = await s.scalar(select(models.OutboxMessage))
        assert stored.sent_at == NOW and stored.attempts == 1
    assert await mailer(db, f"smtp://127.0.0.1:{smtp.port}", clock).send_due() == 0  # sent once


async def test_nothing_is_lost_while_the_mail_server_is_down(db):
    await queue(db)
    port = free_port()  # nothing listens there yet: the mail server is down
    clock = Clock()
    sender = mailer(db, f"smtp://127.0.0.1:{port}", clock)
    assert await sender.send_due() == 0
    async with db() as s:
        waiting = await s.scalar(select(models.OutboxMessage))
        assert (waiting.sent_at, waiting.attempts) == (None, 1)
        assert waiting.next_attempt_at == NOW + timedelta(seconds=30)
        assert waiting.last_error
    assert await sender.send_due() == 0  # not due yet
    inbox = Inbox()
    started = Controller(inbox, hostname="127.0.0.1", port=port)
    started.start()
    try:
        clock.now = NOW + timedelta(seconds=31)
        assert await sender.send_due() == 1
        assert await sender.send_due() == 0
    finally:
        started.stop()
    assert [m["To"] for m in inbox.messages] == ["dara@example.org"]


async def test_a_failure_keeps_the_password_out_of_the_outbox(db):
    await queue(db)
    await mailer(db, f"smtp://isu:s3cret-password@127.0.0.1:{free_port()}", Clock()).send_due()
    async with db() as s:
        waiting = await s.scalar(select(models.OutboxMessage))
    assert waiting.last_error and "s3cret-password" not in waiting.last_error


async def test_retries_back_off_to_an_hour(db):
    await queue(db)
    clock = Clock()
    sender = mailer(db, f"smtp://127.0.0.1:{free_port()}", clock)
    waits = []
    for _ in range(10):
        await sender.send_due()
        async with db() as s:
            row = await s.scalar(select(models.OutboxMessage))
        waits.append(row.next_attempt_at - clock.now)
        clock.now = row.next_attempt_at
    assert waits[:3] == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
    assert waits[-1] == LAST_RETRY


async def test_a_dedupe_key_queues_once(db):
    await queue(db, dedupe_key="reminder:1")
    await queue(db, dedupe_key="reminder:1")
    async with db() as s:
        assert len((await s.scalars(select(models.OutboxMessage))).all()) == 1


async def test_without_a_mail_server_messages_wait_in_the_outbox(db):
    await queue(db)
    assert await mailer(db, "", Clock()).send_due() == 0
    async with db() as s:
        assert (await s.scalar(select(models.OutboxMessage))).sent_at is None


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_processes_send_a_message_once(db, smtp):
    for n in range(30):
        await queue(db, to=f"m{n}@example.org")
    clock = Clock()
    one, other = (mailer(db, f"smtp://127.0.0.1:{smtp.port}", clock) for _ in range(2))
    import asyncio

    sent = await asyncio.gather(*(m.send_due() for m in (one, other, one, other)))
    assert sum(sent) == 30
    assert sorted(m["To"] for m in smtp.inbox.messages) == sorted(f"m{n}@example.org" for n in range(30))


def test_smtp_urls():
    server = SmtpServer.parse("smtp://isu%40example.org:s3cret@mail.example.org:587?starttls=true")
    assert (server.host, server.port, server.username, server.password) == (
        "mail.example.org",
        587,
        "isu@example.org",
        "s3cret",
    )
    assert (server.use_tls, server.start_tls) == (False, True)
    assert SmtpServer.parse("smtps://mail.example.org").port == 465
    for wrong in ("mail.example.org", "http://mail.example.org", "smtp://host:port"):
        with pytest.raises(ValueError):
            SmtpServer.parse(wrong)
