"""What the registration desk's decisions tell people, as e-mails in the outbox.

The domain says who must hear what (``rooms.registration.Notice``); this
module finds their address and language, and words the details (the event's
title in that language, deadlines in the event's time zone). Links go in as
markers (server/mail_links.py): the outbox never holds a private link.
"""

from __future__ import annotations

from rooms.registration import Delegation, Desk, Notice
from server import models
from server.i18n import format_moment
from server.localized import pick
from server.mail import enqueue
from server.mail_links import marker
from server.state import Access


async def send_notices(tx: Access, event: models.Event, desk: Desk, notices: list[Notice]) -> None:
    for notice in notices:
        await _send(tx, event, desk, notice)


async def _send(tx: Access, event: models.Event, desk: Desk, notice: Notice) -> None:
    delegation: Delegation | None
    if notice.member is None:
        delegation = desk.delegations[notice.delegation_id or 0]
        if not delegation.focal_email:
            return
        to, language = delegation.focal_email, delegation.focal_language or "en"
    else:
        member = notice.member
        if not member.email:
            return
        to, language = member.email, member.language
        delegation = desk.delegations.get(member.delegation_id or 0)
    context = {"event_title": pick(event.titles or {"": event.title}, language).text or event.title}
    deadline = format_moment(event.nominations_close_at, event.timezone, language)
    if notice.kind in ("invitation", "reminder"):
        assert delegation is not None
        context |= {
            "delegation_name": delegation.name,
            "focal_name": delegation.focal_name or "",
            "nomination_url": marker("focal", delegation.id),
            "deadline": deadline,
            "deadline_sponsored": format_moment(event.sponsored_nominations_close_at, event.timezone, language),
        }
    else:
        assert notice.member is not None
        participant_id = notice.member.participant_id
        context["name"] = notice.member.name
        if notice.kind == "nomination":
            context |= {
                "delegation_name": delegation.name if delegation else "",
                "registration_url": marker("register", participant_id),
                "deadline": deadline,
            }
        elif notice.kind in ("approved", "join_link"):
            context["join_url"] = marker("join", participant_id)
        elif notice.kind == "rejected":
            context["reason"] = notice.reason
        elif notice.kind in ("sponsorship_approved", "sponsorship_declined"):
            context["registration_url"] = marker("register", participant_id)
    await enqueue(
        tx.connection, event_id=event.id, kind=notice.kind, to=to, language=language, context=context, now=tx.now
    )
