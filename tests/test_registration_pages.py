"""The nomination, registration and organizer pages against bad input: each
gets a clear error in the page's language and changes nothing (issue 15).
Real server, real database, real HTTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import websockets
from sqlalchemy import func, select, update

from server import models, tokens
from server.secretariat import desk_of
from tests.conftest import SECRET

PDF = b"%PDF-1.4\n%%EOF\n"


def csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def refusal(html: str) -> str:
    found = re.search(r'role="alert" id="refusal">\s*<p>(.*?)</p>', html, re.S)
    assert found, "no refusal shown"
    return re.sub(r"<[^>]+>", "", found.group(1))


async def invite(db, world, key: str) -> str:
    """Invite a delegation as the organizer would; its focal point's link."""
    organizer = httpx.AsyncClient(base_url=world.url, follow_redirects=True, timeout=30)
    page = await organizer.get(f"/join/{world.tokens['secretariat']}?to=organize")
    await organizer.post(
        "/organize/invite",
        data={
            "csrf": csrf(page.text),
            "delegation_id": world.delegations[key],
            "focal_name": f"Focal {key}",
            "focal_email": f"focal-{key}@example.org",
        },
    )
    await organizer.aclose()
    async with db() as s:
        delegation = await s.get(models.Delegation, world.delegations[key])
        return tokens.link_token(SECRET, "focal", "test-event", delegation.key, delegation.focal_token_version)


@pytest.fixture
async def focal(server, world, db):
    world.url = server.url
    token = await invite(db, world, "pe")
    client = httpx.AsyncClient(base_url=server.url, follow_redirects=True, timeout=60)
    opened = await client.get(f"/nominate/{token}")
    assert str(opened.url).endswith("/nominate"), "the token leaves the address bar"
    client.page = opened.text
    yield client
    await client.aclose()


async def count(db, model) -> int:
    async with db() as s:
        return await s.scalar(select(func.count()).select_from(model))


async def test_a_forged_form_changes_nothing(focal, db):
    before = await count(db, models.Registration)
    response = await focal.post("/nominations/members", data={"name": "X", "email": "x@example.org"})
    assert response.status_code == 403
    assert "did not come from this page" in refusal(response.text)
    response = await focal.post(
        "/nominations/members", data={"csrf": "another-token-entirely-xx", "name": "X", "email": "x@example.org"}
    )
    assert response.status_code == 403
    assert await count(db, models.Registration) == before


async def test_uploads_too_large_or_not_a_pdf(focal, db):
    form = {"csrf": csrf(focal.page), "reference": "NV/1", "dated": "2023-08-02"}
    big = b"%PDF-" + b"0" * (50 * 1024 * 1024)
    response = await focal.post("/nominations/note", data=form, files={"file": ("note.pdf", big, "application/pdf")})
    assert response.status_code == 413
    assert "5 MB" in refusal(response.text)
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    response = await focal.post("/nominations/note", data=form, files={"file": ("note.pdf", png, "application/pdf")})
    assert response.status_code == 409
    assert "PDF" in refusal(response.text)
    assert await count(db, models.NoteVerbale) == 0
    response = await focal.post("/nominations/note", data=form, files={"file": ("note.pdf", PDF, "application/pdf")})
    assert response.status_code == 200 and "NV/1" in response.text
    assert await count(db, models.NoteVerbale) == 1


async def test_the_note_is_downloaded_by_organizers_only_as_an_attachment(focal, server, world, db):
    form = {"csrf": csrf(focal.page), "reference": "NV/2", "dated": "2023-08-02"}
    await focal.post("/nominations/note", data=form, files={"file": ("n.pdf", PDF, "application/pdf")})
    async with db() as s:
        note_id = await s.scalar(select(models.NoteVerbale.id))
    async with httpx.AsyncClient(base_url=server.url, follow_redirects=True) as organizer:
        await organizer.get(f"/join/{world.tokens['secretariat']}")
        response = await organizer.get(f"/organize/notes/{note_id}")
        assert response.status_code == 200 and response.content == PDF
        assert response.headers["content-disposition"].startswith("attachment")
    async with httpx.AsyncClient(base_url=server.url, follow_redirects=True) as delegate:
        await delegate.get(f"/join/{world.tokens['france']}")
        assert (await delegate.get(f"/organize/notes/{note_id}")).status_code == 403
        assert (await delegate.get("/organize")).status_code == 403
    assert (await focal.get(f"/organize/notes/{note_id}")).status_code == 403


async def test_a_focal_point_acts_for_their_own_delegation_only(focal, server, world, db):
    other = await invite(db, world, "fr")
    async with httpx.AsyncClient(base_url=server.url, follow_redirects=True) as france:
        page = await france.get(f"/nominate/{other}")
        await france.post(
            "/nominations/members",
            data={"csrf": csrf(page.text), "name": "Jean Delegue-Francais", "email": "fr@example.org"},
        )
    async with db() as s:
        french = await s.scalar(select(models.Participant).where(models.Participant.email == "fr@example.org"))
    response = await focal.post("/nominations/withdraw", data={"csrf": csrf(focal.page), "participant_id": french.id})
    assert response.status_code == 409
    async with db() as s:
        assert (await s.get(models.Registration, french.id)).state == "nominated"
    assert "Delegue-Francais" not in (await focal.get("/nominate")).text


async def test_a_nomination_after_the_deadline_is_refused_in_the_page_language(focal, db, world):
    async with db() as s, s.begin():
        await s.execute(update(models.Event).values(nominations_close_at=datetime.now(UTC) - timedelta(minutes=1)))
    response = await focal.post(
        "/nominations/members?lang=fr", data={"csrf": csrf(focal.page), "name": "Tard", "email": "t@example.org"}
    )
    assert response.status_code == 409
    assert refusal(response.text) == "Rien n'a été modifié. Les désignations pour cet événement sont closes."
    assert await count(db, models.Registration) == 0


async def test_links_that_open_nothing(server):
    async with httpx.AsyncClient(base_url=server.url) as client:
        for path in ("/nominate/not-a-link", "/register/not-a-link", "/nominate", "/register"):
            assert (await client.get(path)).status_code == 404
        response = await client.post("/registration/complete", data={"csrf": "x"})
        assert response.status_code == 404


async def test_the_desk_and_its_personal_data_are_the_organizers_alone(focal, server, world, db):
    await focal.post(
        "/nominations/members",
        data={"csrf": csrf(focal.page), "name": "Ana", "email": "ana@example.org", "sponsorship": "yes"},
    )
    async with db() as s, s.begin():
        desk = await desk_of(s, world.event_id)
    for who in ("chair", "france", "observer"):
        socket = await websockets.connect(f"{server.ws_url}/ws/sessions/{desk.id}?token={world.tokens[who]}")
        received = []
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                received.append(await socket.recv())
        assert closed.value.rcvd.code == 4403
        assert all('"forbidden"' in message for message in received)
    socket = await websockets.connect(f"{server.ws_url}/ws/sessions/{desk.id}?token={world.tokens['secretariat']}")
    snapshot = await socket.recv()
    assert '"snapshot"' in snapshot
    await socket.close()
    # The programme lists no desk.
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert "Secretariat" not in (await client.get("/")).text


async def test_the_console_revokes_a_link_and_sends_join_links(server, world, db):
    async with db() as s, s.begin():
        await s.execute(
            update(models.Participant)
            .where(models.Participant.id == world.participants["peru"])
            .values(email="peru@example.org", language="es")
        )
    async with httpx.AsyncClient(base_url=server.url, follow_redirects=True) as organizer:
        page = await organizer.get(f"/join/{world.tokens['secretariat']}?to=organize")
        response = await organizer.post(
            f"/organize/people/{world.participants['peru']}/send-link", data={"csrf": csrf(page.text)}
        )
        assert response.status_code == 200
        response = await organizer.post(
            f"/organize/people/{world.participants['france']}/revoke", data={"csrf": csrf(page.text)}
        )
        assert response.status_code == 200
    async with db() as s:
        mail = await s.scalar(select(models.OutboxMessage))
        assert (mail.kind, mail.recipient, mail.language) == ("join_link", "peru@example.org", "es")
        assert "/join/" not in mail.body
    async with httpx.AsyncClient(base_url=server.url) as old:
        assert (await old.get(f"/join/{world.tokens['france']}")).status_code == 404


async def test_the_console_adds_an_interpreter_and_sets_a_session_s_rules(server, world, db):
    async with httpx.AsyncClient(base_url=server.url, follow_redirects=True) as organizer:
        page = await organizer.get(f"/join/{world.tokens['secretariat']}?to=organize")
        token = csrf(page.text)
        response = await organizer.post(
            "/organize/people",
            data={
                "csrf": token,
                "name": "Lucía Pérez",
                "roles": ["interpreter"],
                "booth": "es",
                "works_from": ["en", "fr"],
            },
        )
        assert response.status_code == 200 and "Lucía Pérez" in response.text
        refused = await organizer.post(
            "/organize/people", data={"csrf": token, "name": "No booth", "roles": ["interpreter"]}
        )
        assert refused.status_code == 400 and "booth" in refusal(refused.text)
        response = await organizer.post(
            f"/organize/sessions/{world.session_id}",
            data={
                "csrf": token,
                "title": "Panel on funding",
                "kind": "panel",
                "room": "Salle 2",
                "date": "2020-12-04",
                "starts": "14:00",
                "ends": "15:30",
                "limit_state_party": "180",
                "limit_observer_state": "120",
                "point_of_order": "60",
                "right_of_reply": "90",
                "topic": "How can funding last?",
            },
        )
        assert response.status_code == 200
    async with db() as s:
        interpreter = await s.scalar(select(models.Participant).where(models.Participant.key == "lucia-perez"))
        booth = await s.scalar(
            select(models.LanguageAssignment).where(models.LanguageAssignment.participant_id == interpreter.id)
        )
        assert (booth.language, booth.works_from) == ("es", ["en", "fr"])
        session = await s.get(models.Session, world.session_id)
        assert session.time_limits["state_party"] == 180 and session.time_limits["civil_society"] is None
        assert (session.right_of_reply_limit, session.questions_moderated) == (90, False)
        assert (session.title, session.kind, session.room) == ("Panel on funding", "panel", "Salle 2")
        assert session.starts_at == datetime(2020, 12, 4, 13, 0, tzinfo=UTC)  # 14:00 in Brussels
        topic = await s.scalar(select(models.QuestionTopic).where(models.QuestionTopic.session_id == session.id))
        assert topic.texts == {"en": "How can funding last?"}
        assert (
            await s.scalar(
                select(func.count()).select_from(models.Participant).where(models.Participant.name == "No booth")
            )
            == 0
        )


async def test_the_console_imports_a_spreadsheet_all_or_nothing(server, world, db):
    broken = (
        b"key,name,title,delegation,roles,email\n"
        b"ana,Ana Ruiz,Minister,pe,participant,ana@example.org\n"
        b"bob,Bob,,nowhere,participant,bob@example.org\n"
        b"cy,Cy,,fr,participant,not-an-address\n"
    )
    good = "key;name;delegation;email\nana;Ana Ruiz;pe;ana@example.org\nbo;Bo Li;fr;bo@example.org\n".encode(
        "utf-8-sig"
    )
    async with httpx.AsyncClient(base_url=server.url, follow_redirects=True) as organizer:
        await organizer.get(f"/join/{world.tokens['secretariat']}")
        page = await organizer.get(
            "/organize?lang=es"
        )  # the desk exists from here on: the import must not stumble on it
        token = csrf(page.text)
        response = await organizer.post(
            "/organize/import",
            data={"csrf": token, "what": "participants"},
            files={"file": ("p.csv", broken, "text/csv")},
        )
        assert response.status_code == 400
        problems = re.findall(r"<li>Línea (\d+)", response.text)
        assert problems == ["3", "4"]
        assert await count(db, models.Participant) == len(world.participants)
        response = await organizer.post(
            "/organize/import",
            data={"csrf": token, "what": "participants"},
            files={"file": ("p.csv", good, "text/csv")},
        )
        assert response.status_code == 200 and 'id="imported"' in response.text
        assert await count(db, models.Participant) == len(world.participants) + 2
        exported = await organizer.get("/organize/event.yaml")
        assert exported.headers["content-disposition"].startswith("attachment")
        assert "Ana Ruiz" in exported.text and "slug: test-event" in exported.text


async def test_the_lists_download_for_organizers_only(server, world):
    paths = (
        "/organize/participants.csv",
        "/organize/participants.xlsx",
        f"/organize/attendance/{world.session_id}.csv",
        f"/organize/attendance/{world.session_id}.xlsx",
    )
    async with httpx.AsyncClient(base_url=server.url, follow_redirects=True) as organizer:
        await organizer.get(f"/join/{world.tokens['secretariat']}")
        for path in paths:
            response = await organizer.get(path)
            assert response.status_code == 200, path
            assert response.headers["content-disposition"].startswith("attachment")
        listed = (await organizer.get("/organize/participants.csv")).text
        assert listed.splitlines()[0] == "delegation,kind,name,title,roles,sponsored,email"
    async with httpx.AsyncClient(base_url=server.url, follow_redirects=True) as delegate:
        await delegate.get(f"/join/{world.tokens['france']}")
        for path in paths:
            assert (await delegate.get(path)).status_code == 403


async def test_an_organizer_creates_an_event_and_continues_in_it(server, world, db):
    async with httpx.AsyncClient(base_url=server.url, follow_redirects=True) as organizer:
        page = await organizer.get(f"/join/{world.tokens['secretariat']}?to=organize")
        response = await organizer.post(
            "/organize/events",
            data={
                "csrf": csrf(page.text),
                "slug": "phnom-penh-2023",
                "title": "Conférence de Phnom Penh",
                "timezone": "Asia/Phnom_Penh",
            },
        )
        assert response.status_code == 200 and str(response.url).endswith("/organize")
        assert "Conférence de Phnom Penh" in response.text and "Asia/Phnom_Penh" in response.text
        refused = await organizer.post(
            "/organize/events", data={"csrf": csrf(response.text), "slug": "x", "title": "X", "timezone": "Mars/Base"}
        )
        assert refused.status_code == 400 and "Mars/Base" in refusal(refused.text)
    async with db() as s:
        event = await s.scalar(select(models.Event).where(models.Event.slug == "phnom-penh-2023"))
        organizers = (await s.scalars(select(models.Participant).where(models.Participant.event_id == event.id))).all()
        assert [p.name for p in organizers] == ["ISU Secretariat"]
    async with httpx.AsyncClient(base_url=server.url, follow_redirects=True) as old:
        # The first event's link still opens the first event.
        page = await old.get(f"/join/{world.tokens['secretariat']}?to=organize")
        assert "Test event" in page.text


async def test_a_delegation_is_added_then_changed_by_its_key(server, world, db):
    async with httpx.AsyncClient(base_url=server.url, follow_redirects=True) as organizer:
        page = await organizer.get(f"/join/{world.tokens['secretariat']}?to=organize")
        form = {"csrf": csrf(page.text), "key": "kh", "name": "Cambodia", "kind": "state_party"}
        assert (await organizer.post("/organize/delegations", data=form)).status_code == 200
        changed = form | {"name": "Kingdom of Cambodia", "member_limit": "5"}
        assert (await organizer.post("/organize/delegations", data=changed)).status_code == 200
        wrong = form | {"kind": "planet"}
        assert (await organizer.post("/organize/delegations", data=wrong)).status_code == 400
    async with db() as s:
        rows = (await s.scalars(select(models.Delegation).where(models.Delegation.key == "kh"))).all()
    assert [(r.name, r.kind, r.member_limit) for r in rows] == [("Kingdom of Cambodia", "state_party", 5)]


async def test_a_sponsored_delegate_accepts_the_conditions_and_appears_in_links_once_approved(focal, server, world, db):
    from server.links import participant_links
    from server.settings import Settings

    await focal.post(
        "/nominations/members",
        data={"csrf": csrf(focal.page), "name": "Ana Ruiz", "email": "ana@example.org", "sponsorship": "yes"},
    )
    async with db() as s:
        ana = await s.scalar(select(models.Participant).where(models.Participant.email == "ana@example.org"))
        registration = await s.get(models.Registration, ana.id)
    settings = Settings(secret=SECRET, public_url="https://t.example")
    assert "ana-ruiz" not in {entry["key"] for entry in await participant_links(db, settings, "test-event")}
    member_token = tokens.link_token(SECRET, "register", "test-event", ana.key, registration.token_version)
    async with (
        httpx.AsyncClient(base_url=server.url, follow_redirects=True) as member,
        httpx.AsyncClient(base_url=server.url, follow_redirects=True) as organizer,
    ):
        page = await member.get(f"/register/{member_token}")
        await member.post("/registration/complete", data={"csrf": csrf(page.text), "gender": "undisclosed"})
        console = await organizer.get(f"/join/{world.tokens['secretariat']}?to=organize")
        for action in ("sponsor-yes", "approve"):
            response = await organizer.post(
                f"/organize/registrations/{ana.id}/{action}", data={"csrf": csrf(console.text)}
            )
            assert response.status_code == 200, action
        page = await member.get("/register")
        assert 'action="/registration/accept"' in page.text
        page = await member.post("/registration/accept", data={"csrf": csrf(page.text)})
        assert 'action="/registration/accept"' not in page.text and "conditions accepted" in page.text
    async with db() as s:
        assert (await s.get(models.Registration, ana.id)).sponsorship == "accepted"
        assert (await s.get(models.Participant, ana.id)).is_sponsored
    assert "ana-ruiz" in {entry["key"] for entry in await participant_links(db, settings, "test-event")}


async def test_a_focal_point_declines_then_nominates_after_all(focal, db, world):
    response = await focal.post("/nominations/decline", data={"csrf": csrf(focal.page)})
    assert response.status_code == 200 and 'id="declined"' in response.text
    async with db() as s:
        assert (await s.get(models.Delegation, world.delegations["pe"])).invitation == "declined"
    await focal.post("/nominations/members", data={"csrf": csrf(focal.page), "name": "Ana", "email": "ana@example.org"})
    async with db() as s:
        assert (await s.get(models.Delegation, world.delegations["pe"])).invitation == "accepted"


async def test_the_console_makes_an_agenda_item_and_a_session_takes_it_up(server, world, db):
    async with httpx.AsyncClient(base_url=server.url, follow_redirects=True) as organizer:
        page = await organizer.get(f"/join/{world.tokens['secretariat']}?to=organize")
        token = csrf(page.text)
        form = {
            "csrf": token,
            "key": "item-5",
            "title": "General debate",
            "reply_limits": "600, 300",
            "budget_minutes": "10",
            "hold": "yes",
        }
        assert (await organizer.post("/organize/agenda", data=form)).status_code == 200
        bad = await organizer.post("/organize/agenda", data=form | {"reply_limits": "600, -5"})
        assert bad.status_code == 400 and "reply_limits" in refusal(bad.text)
        async with db() as s:
            item = await s.scalar(select(models.AgendaItem).where(models.AgendaItem.key == "item-5"))
        response = await organizer.post(
            f"/organize/sessions/{world.session_id}",
            data={
                "csrf": token,
                "title": "Panel",
                "kind": "panel",
                "date": "2020-12-04",
                "starts": "13:30",
                "ends": "15:30",
                "limit_state_party": "180",
                "point_of_order": "60",
                "right_of_reply": "120",
                "items_shown": "yes",
                "items": [str(item.id)],
            },
        )
        assert response.status_code == 200
    async with db() as s:
        item = await s.scalar(select(models.AgendaItem).where(models.AgendaItem.key == "item-5"))
        session = await s.get(models.Session, world.session_id)
    assert (item.reply_limits, item.hold_replies_to_day_end, item.budgets) == (
        [600, 300],
        True,
        {"per_delegation": 600},
    )
    assert (session.item_ids, session.current_item_id) == ([item.id], item.id)


async def test_the_console_adds_committee_terms_and_refuses_two_chairs(server, world, db):
    async with httpx.AsyncClient(base_url=server.url, follow_redirects=True) as organizer:
        page = await organizer.get(f"/join/{world.tokens['secretariat']}?to=organize")
        token = csrf(page.text)
        term = {
            "csrf": token,
            "committee_key": "finance",
            "committee_name": "Committee on Finance",
            "delegation_id": world.delegations["fr"],
            "role": "chair",
            "start": "2024-01-01",
            "end": "2024-12-31",
        }
        first = await organizer.post("/organize/committees", data=term)
        assert first.status_code == 200, refusal(first.text)
        second = term | {"delegation_id": world.delegations["pe"], "start": "2024-06-01", "end": "2025-05-31"}
        refused = await organizer.post("/organize/committees", data=second)
        assert refused.status_code == 409 and "France" in refusal(refused.text)
        member = second | {"role": "member"}
        response = await organizer.post("/organize/committees", data=member)
        assert response.status_code == 200 and "Committee on Finance" in response.text
    async with db() as s:
        rows = (await s.scalars(select(models.CommitteeMembership).order_by(models.CommitteeMembership.id))).all()
    assert [(r.organisation_key, r.role) for r in rows if r.organisation_key in ("fr", "pe")][-2:] == [
        ("fr", "chair"),
        ("pe", "member"),
    ]
