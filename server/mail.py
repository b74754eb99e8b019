"""E-mail through an outbox: written in the transaction that decided it,
sent later by a ``Mailer`` with retries.

``enqueue`` renders a message in the recipient's language (the templates
under server/templates/mail, translated by the pages' catalogs) and inserts
it on the caller's connection, so a decision and its e-mail commit together
and a mail server that is down loses nothing and holds up no command.

``Mailer`` sends what is due over SMTP (aiosmtplib), one claim at a time so
that several processes never send a message twice: it takes a lease on the
row (``next_attempt_at`` moved ahead) in a short transaction, sends, then
marks it sent, or puts the next attempt further away (30 s, doubling, at
most an hour). Without ``TRIBUNE_SMTP_URL`` nothing is sent: messages wait in
the organizer console's outbox, where an organizer reads and forwards them.

Private links are never in the outbox: messages carry a marker that the
Mailer, and the console, turn into the link when it is sent or shown
(server/mail_links.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import cache
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
import jinja2
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from server import models
from server.i18n import PAGE_LANGUAGES, TEMPLATES, translations
from server.mail_links import resolve

log = logging.getLogger(__name__)

KINDS = (
    "invitation",
    "nomination",
    "registration_received",
    "approved",
    "rejected",
    "sponsorship_approved",
    "sponsorship_declined",
    "reminder",
    "join_link",
)
FIRST_RETRY = timedelta(seconds=30)
LAST_RETRY = timedelta(hours=1)
# How long a process owns a message it is sending before another may try it.
LEASE = timedelta(minutes=2)
BATCH = 20


@cache
def _environment(language: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES / "mail")),
        # Plain text: a name with "&" or "<" is written as typed.
        autoescape=False,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env


def render(kind: str, language: str, context: Mapping[str, str]) -> tuple[str, str]:
    """(subject, body) of a message in a language (English for one we do not write)."""
    if kind not in KINDS:
        raise ValueError(f"no e-mail of kind {kind!r}")
    language = language if language in PAGE_LANGUAGES else "en"
    text = _environment(language).get_template(f"{kind}.txt").render(**context)
    subject, _, body = text.strip().partition("\n")
    return subject.strip(), body.strip() + "\n"


async def enqueue(
    connection: AsyncConnection,
    *,
    event_id: int | None,
    kind: str,
    to: str,
    language: str,
    context: Mapping[str, str],
    now: datetime,
    dedupe_key: str | None = None,
) -> bool:
    """Queue a message in the caller's transaction; False if ``dedupe_key`` was queued already."""
    if dedupe_key is not None and await connection.scalar(
        select(models.OutboxMessage.id).where(models.OutboxMessage.dedupe_key == dedupe_key)
    ):
        return False
    subject, body = render(kind, language, context)
    await connection.execute(
        insert(models.OutboxMessage).values(
            event_id=event_id,
            kind=kind,
            dedupe_key=dedupe_key,
            recipient=to,
            language=language,
            subject=subject[:300],
            body=body,
            created_at=now,
            attempts=0,
        )
    )
    return True


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool | None

    @classmethod
    def parse(cls, url: str) -> SmtpServer:
        """``smtp://user:password@host:587?starttls=true``, ``smtps://host:465`` (TLS from the start)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(
                "TRIBUNE_SMTP_URL must look like smtp://user:password@host:587?starttls=true or smtps://host:465"
            )
        query = parse_qs(parts.query)
        starttls = query.get("starttls", [""])[0].lower()
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 25)
        except ValueError:
            raise ValueError("TRIBUNE_SMTP_URL has a port that is not a number") from None
        return cls(
            host=parts.hostname,
            port=port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=parts.scheme == "smtps",
            # None: upgrade when the server offers it (aiosmtplib's default).
            start_tls=True if starttls in ("1", "true", "yes") else False if starttls in ("0", "false", "no") else None,
        )


class Mailer:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        smtp_url: str,
        mail_from: str,
        secret: str,
        base_url: str,
        clock: Callable[[], datetime],
        poll_seconds: float = 5.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.server = SmtpServer.parse(smtp_url) if smtp_url else None
        self.mail_from = mail_from
        self.secret = secret
        self.base_url = base_url
        self.clock = clock
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        if self.server is None:
            log.info("no TRIBUNE_SMTP_URL: e-mails wait in the organizer console's outbox")
            return
        while True:
            # Each pass in its own task: a cancellation that lands while the
            # pool takes a connection back is swallowed there (and only
            # logged), so the loop cancels the pass and stops itself.
            work = asyncio.ensure_future(self._pass())
            try:
                await work
            except asyncio.CancelledError:
                work.cancel()
                await asyncio.gather(work, return_exceptions=True)
                raise
            self._wake.clear()
            try:
                # Not wait_for: in Python 3.11 it drops a cancellation that comes with the wake.
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _pass(self) -> None:
        try:
            while await self.send_due():
                pass
        except Exception:
            log.exception("the outbox could not be read")

    async def send_due(self) -> int:
        """Send what is due now (at most one batch); how many were sent."""
        if self.server is None:
            return 0
        sent = 0
        for message_id in await self._claim():
            sent += await self._send(message_id)
        return sent

    async def _claim(self) -> list[int]:
        now = self.clock()
        _O = models.OutboxMessage
        due = (
            select(_O.id)
            .where(_O.sent_at.is_(None), (_O.next_attempt_at.is_(None)) | (_O.next_attempt_at <= now))
            .order_by(_O.id)
            .limit(BATCH)
        )
        async with self.sessionmaker() as db, db.begin():
            if (await db.connection()).dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            ids = list(await db.scalars(due))
            if ids:
                await db.execute(update(_O).where(_O.id.in_(ids)).values(next_attempt_at=now + LEASE))
        return ids

    async def _send(self, message_id: int) -> int:
        assert self.server is not None
        async with self.sessionmaker() as db:
            row = await db.get(models.OutboxMessage, message_id)
            if row is None or row.sent_at is not None:
                return 0
            body = await resolve(db, row.body, self.secret, self.base_url)
            recipient, subject, attempts = row.recipient, row.subject, row.attempts
        message = EmailMessage()
        message["From"] = self.mail_from
        message["To"] = recipient
        message["Subject"] = subject
        message["Date"] = format_datetime(self.clock())
        message["Message-ID"] = make_msgid(domain=self.mail_from.rpartition("@")[2].strip("> ") or None)
        message.set_content(body)
        now = self.clock()
        try:
            await aiosmtplib.send(
                message,
                hostname=self.server.host,
                port=self.server.port,
                username=self.server.username,
                password=self.server.password,
                use_tls=self.server.use_tls,
                start_tls=self.server.start_tls,
                timeout=30,
            )
        except (aiosmtplib.SMTPException, OSError) as error:
            wait = min(LAST_RETRY, FIRST_RETRY * 2**attempts)
            # The reason, not the exception's text: it may quote the server's greeting or our login.
            reason = f"{type(error).__name__}: {getattr(error, 'code', '')} {getattr(error, 'message', '')}".strip()
            await self._mark(message_id, attempts=attempts + 1, next_attempt_at=now + wait, last_error=reason[:500])
            log.warning("e-mail %s not sent (attempt %s): %s", message_id, attempts + 1, type(error).__name__)
            return 0
        await self._mark(message_id, attempts=attempts + 1, sent_at=now, last_error=None)
        return 1

    async def _mark(self, message_id: int, **values: object) -> None:
        async with self.sessionmaker() as db, db.begin():
            await db.execute(update(models.OutboxMessage).where(models.OutboxMessage.id == message_id).values(**values))
