"""rooms.committees: dated memberships with a role; members and chair derived per day (seed 004)."""

from __future__ import annotations

import re
import textwrap
from datetime import date

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from rooms.committees import Committee, CommitteeRole, Membership
from rooms.errors import Refused
from server import models
from server.auth import actor_in
from server.loader import EventFileError, load_event, parse_event

SECRET = "test-secret"
CHAIR, MEMBER, VICE = CommitteeRole.CHAIR, CommitteeRole.MEMBER, CommitteeRole.VICE_CHAIR


def term(key: str, name: str, role: CommitteeRole, start: str, end: str) -> Membership:
    return Membership(key, name, role, date.fromisoformat(start), date.fromisoformat(end))


def cooperation() -> Committee:
    """Seed 004: four States in overlapping two-year terms; a chair in the second year of its term."""
    return Committee.of(
        "cooperation",
        "Committee on the Enhancement of Cooperation and Assistance",
        [
            term("gb", "United Kingdom", CHAIR, "2019-01-01", "2020-12-31"),
            term("tr", "Turkey", MEMBER, "2019-01-01", "2020-12-31"),
            term("co", "Colombia", MEMBER, "2020-01-01", "2020-12-31"),
            term("co", "Colombia", CHAIR, "2021-01-01", "2021-12-31"),
            term("de", "Germany", MEMBER, "2020-01-01", "2021-12-31"),
        ],
    )


def keys(memberships: list[Membership]) -> list[str]:
    return [membership.organisation_key for membership in memberships]


def test_members_and_chair_follow_the_date():
    committee = cooperation()
    assert keys(committee.members_on(date(2019, 6, 1))) == ["gb", "tr"]
    # 2020: the four terms overlap, the chair first.
    assert keys(committee.members_on(date(2020, 12, 4))) == ["gb", "tr", "co", "de"]
    assert keys(committee.members_on(date(2021, 6, 1))) == ["co", "de"]
    assert committee.members_on(date(2022, 1, 1)) == []
    assert committee.chair_on(date(2019, 6, 1)).organisation_key == "gb"
    assert committee.chair_on(date(2020, 12, 31)).organisation_key == "gb"
    assert committee.chair_on(date(2021, 1, 1)).organisation_key == "co"
    assert committee.chair_on(date(2018, 12, 31)) is None


def test_term_years_as_the_seed_writes_them():
    assert term("gb", "United Kingdom", CHAIR, "2019-01-01", "2020-12-31").years == "2019-2020"
    assert term("co", "Colombia", CHAIR, "2021-01-01", "2021-12-31").years == "2021"


def test_a_term_ending_before_it_starts_is_refused():
    with pytest.raises(Refused) as caught:
        Committee.of("c", "C", [term("gb", "United Kingdom", MEMBER, "2020-01-01", "2019-12-31")])
    assert caught.value.code == "term_ends_before_it_starts"
    assert "2019-12-31" in caught.value.message and "United Kingdom" in caught.value.message


def test_one_day_terms_are_allowed():
    committee = Committee.of("c", "C", [term("gb", "United Kingdom", CHAIR, "2020-05-05", "2020-05-05")])
    assert committee.chair_on(date(2020, 5, 5)).organisation_key == "gb"
    assert committee.chair_on(date(2020, 5, 6)) is None


def test_two_chairs_on_one_date_are_refused_naming_both_and_the_dates():
    committee = cooperation()
    with pytest.raises(Refused) as caught:
        committee.add(term("fr", "France", CHAIR, "2020-12-31", "2021-12-31"))
    assert caught.value.code == "two_chairs"
    message = caught.value.message
    assert "United Kingdom" in message and "France" in message
    # France also overlaps Colombia's chair; the first clash found is reported.
    assert "2020-12-31" in message
    # Nothing changed.
    assert committee.chair_on(date(2021, 6, 1)).organisation_key == "co"


def test_chairs_in_turn_and_a_vice_chair_beside_the_chair_are_allowed():
    committee = cooperation()
    committee.add(term("tr", "Turkey", VICE, "2021-01-01", "2021-12-31"))
    assert keys(committee.members_on(date(2021, 3, 1))) == ["co", "tr", "de"]


def test_a_state_with_two_overlapping_terms_is_refused():
    committee = cooperation()
    with pytest.raises(Refused) as caught:
        committee.add(term("tr", "Turkey", MEMBER, "2020-06-01", "2021-12-31"))
    assert caught.value.code == "overlapping_terms"
    assert "Turkey" in caught.value.message and "2020-06-01" in caught.value.message
    assert "2020-12-31" in caught.value.message


# --- the event file, storage and the roles of a committee's meetings (SQLite and PostgreSQL) ---

SEED_FILE = textwrap.dedent("""\
    event:
      slug: committees
      title: Committees
      timezone: Europe/Zurich
    delegations:
      - {key: gb, name: United Kingdom, kind: state_party}
      - {key: tr, name: Turkey, kind: state_party}
      - {key: co, name: Colombia, kind: state_party}
      - {key: de, name: Germany, kind: state_party}
    committees:
      - key: cooperation
        name:
          en: Committee on the Enhancement of Cooperation and Assistance
          fr: Comité sur le renforcement de la coopération et de l’assistance
        memberships:
          - {state: gb, name: {en: United Kingdom, fr: Royaume-Uni}, role: chair, start: 2019-01-01, end: 2020-12-31}
          - {state: tr, name: Turkey, start: 2019-01-01, end: 2020-12-31}
          - {state: co, name: Colombia, start: 2020-01-01, end: 2020-12-31}
          - {state: co, name: Colombia, role: chair, start: 2021-01-01, end: 2021-12-31}
          - {state: de, name: Germany, start: 2020-01-01, end: 2021-12-31}
    sessions:
      - {key: meeting-2019, title: Meeting 2019, committee: cooperation, starts: "2019-06-03 10:00", ends: "2019-06-03 12:00"}
      - {key: meeting-2021, title: Meeting 2021, committee: cooperation, starts: "2021-06-03 10:00", ends: "2021-06-03 12:00"}
      - {key: plenary, title: Plenary, starts: "2021-06-04 10:00", ends: "2021-06-04 12:00"}
    participants:
      - {key: gb-1, name: UK delegate, delegation: gb}
      - {key: tr-1, name: Turkish delegate, delegation: tr, roles: []}
      - {key: co-1, name: Colombian delegate, delegation: co}
      - {key: co-2, name: Colombian moderator, delegation: co, roles: [moderator]}
      - {key: de-1, name: German delegate, delegation: de, roles: []}
    """)


async def session_roles(maker) -> dict[tuple[str, str], set[str]]:
    """(participant key, session key) -> the roles held there, for session roles."""
    async with maker() as db:
        rows = await db.execute(
            select(models.Participant.key, models.Session.key, models.ParticipantRole.role)
            .join(models.ParticipantRole, models.ParticipantRole.participant_id == models.Participant.id)
            .join(models.Session, models.Session.id == models.ParticipantRole.session_id)
        )
        out: dict[tuple[str, str], set[str]] = {}
        for person, session, role in rows:
            out.setdefault((person, session), set()).add(role)
        return out


async def test_meetings_take_their_chair_from_the_membership_on_their_date(db):
    await load_event(db, parse_event(SEED_FILE), SECRET)
    roles = await session_roles(db)
    # 2019: the United Kingdom chairs; Turkey, a member without a role, takes part.
    assert roles[("gb-1", "meeting-2019")] == {"chair", "participant"}
    assert roles[("tr-1", "meeting-2019")] == {"participant"}
    assert ("co-1", "meeting-2019") not in roles and ("de-1", "meeting-2019") not in roles
    # 2021: Colombia chairs (its moderator keeps moderating); Germany takes part.
    assert roles[("co-1", "meeting-2021")] == {"chair", "participant"}
    assert roles[("co-2", "meeting-2021")] == {"chair", "moderator"}
    assert roles[("de-1", "meeting-2021")] == {"participant"}
    assert ("gb-1", "meeting-2021") not in roles
    assert not any(session == "plenary" for _, session in roles)
    # What auth sees: the ordinary roles of the session.
    async with db() as session:
        people = {
            row.key: row
            for row in await session.scalars(
                select(models.Participant).options(
                    selectinload(models.Participant.roles), selectinload(models.Participant.delegation)
                )
            )
        }
        meetings = {row.key: row for row in await session.scalars(select(models.Session))}
    assert actor_in(people["gb-1"], meetings["meeting-2019"]).runs_floor
    assert not actor_in(people["gb-1"], meetings["meeting-2021"]).runs_floor
    assert actor_in(people["co-1"], meetings["meeting-2021"]).runs_floor


async def test_loading_again_replaces_the_terms_and_the_roles_they_give(db):
    await load_event(db, parse_event(SEED_FILE), SECRET)
    # Germany, not Colombia, chairs in 2021 after all.
    changed = SEED_FILE.replace(
        "{state: co, name: Colombia, role: chair, start: 2021-01-01, end: 2021-12-31}",
        "{state: co, name: Colombia, start: 2021-01-01, end: 2021-12-31}",
    ).replace(
        "{state: de, name: Germany, start: 2020-01-01", "{state: de, name: Germany, role: chair, start: 2021-01-01"
    )
    report = await load_event(db, parse_event(changed), SECRET)
    assert (report.committees.created, report.committees.updated) == (0, 1)
    roles = await session_roles(db)
    assert roles[("de-1", "meeting-2021")] == {"chair"}
    # Colombia, now a member, gives nothing to those who hold a role already.
    assert ("co-1", "meeting-2021") not in roles
    assert ("co-2", "meeting-2021") not in roles
    async with db() as session:
        committees = list(await session.scalars(select(models.Committee)))
        terms = list(await session.scalars(select(models.CommitteeMembership)))
    assert [row.key for row in committees] == ["cooperation"]
    assert committees[0].names["fr"].startswith("Comité")
    assert len(terms) == 5 and {term.role for term in terms if term.organisation_key == "de"} == {"chair"}
    assert next(term for term in terms if term.organisation_key == "gb").names == {
        "en": "United Kingdom",
        "fr": "Royaume-Uni",
    }


def problems_of(text: str) -> str:
    with pytest.raises(EventFileError) as caught:
        parse_event(text)
    return "\n".join(f"{line}: {reason}" for line, reason in caught.value.problems)


def test_the_event_file_refuses_bad_terms_with_their_lines():
    text = (
        SEED_FILE.replace(
            "{state: tr, name: Turkey, start: 2019-01-01, end: 2020-12-31}",
            "{state: tr, name: Turkey, role: chair, start: 2020-06-01, end: 2020-12-31}",
        )
        .replace(
            "{state: de, name: Germany, start: 2020-01-01, end: 2021-12-31}",
            "{state: de, name: Germany, start: 2020-01-01, end: 2019-12-31}",
        )
        .replace('committee: cooperation, starts: "2021', 'committee: nope, starts: "2021')
    )
    reasons = problems_of(text)
    lines = text.splitlines()
    turkey = next(i for i, line in enumerate(lines, 1) if "Turkey, role: chair" in line)
    germany = next(i for i, line in enumerate(lines, 1) if "name: Germany, start" in line)
    meeting = next(i for i, line in enumerate(lines, 1) if "committee: nope" in line)
    assert (
        f"{turkey}: committees[0].memberships[1].role: the committee would have two chairs, "
        "United Kingdom and Turkey, from 2020-06-01 to 2020-12-31"
    ) in reasons
    assert f"{germany}: committees[0].memberships[4].end: the term of Germany ends (2019-12-31)" in reasons
    assert f"{meeting}: sessions[1].committee: unknown committee 'nope'" in reasons


def test_the_event_file_refuses_a_state_with_two_overlapping_terms():
    text = SEED_FILE.replace(
        "{state: de, name: Germany, start: 2020-01-01, end: 2021-12-31}",
        "{state: de, name: Germany, start: 2020-01-01, end: 2021-12-31}\n"
        "      - {state: de, name: Germany, start: 2021-12-01, end: 2022-12-31}",
    )
    reasons = problems_of(text)
    line = text.splitlines().index("      - {state: de, name: Germany, start: 2021-12-01, end: 2022-12-31}") + 1
    assert (
        f"{line}: committees[0].memberships[5].start: Germany would have two terms at once, from 2021-12-01 to 2021-12-31"
    ) in reasons


def test_a_bad_date_and_a_bad_role_are_reported_at_their_line():
    reasons = problems_of(SEED_FILE.replace("end: 2020-12-31}", "end: 2020-13-31}", 1))
    assert reasons.startswith("16: '2020-13-31' cannot be read")
    reasons = problems_of(SEED_FILE.replace("{state: tr, name: Turkey,", "{state: tr, name: Turkey, role: president,"))
    assert reasons.startswith("17: committees[0].memberships[1].role: ")


# --- the committee page --------------------------------------------------------------


async def test_the_committee_page_lists_members_terms_and_todays_chair(server, world):
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        page = (await client.get("/committees/cooperation")).text
        french = (await client.get("/committees/cooperation?lang=fr")).text
        arabic = (await client.get("/committees/cooperation?lang=ar")).text
        missing = await client.get("/committees/nope")
        other_event = await client.get("/committees/cooperation?event=nope")
        programme = (await client.get("/")).text
    assert "<h1>Committee on the Enhancement of Cooperation and Assistance</h1>" in page
    rows = re.findall(r'<li class="committee-member[^"]*".*?</li>', page, re.S)
    assert len(rows) == 4
    # Peru chaired until 2020-11-30; Thailand chairs today, the row highlighted.
    assert "<bdi>Peru</bdi>" in rows[0] and "2019-2020" in rows[0] and "Chair today" not in rows[0]
    assert 'class="committee-member current-chair" aria-current="true"' in rows[2]
    assert "<bdi>Thailand</bdi>" in rows[2] and "2020-2099" in rows[2] and "Chair today" in rows[2]
    assert "Vice-Chair" in rows[3]
    # Its meeting of 4 December 2020 was chaired by Thailand.
    assert f'href="/sessions/{world.session_id}"' in page and "chaired by <bdi>Thailand</bdi>" in page
    # The page language: names and labels.
    assert "Comité sur le renforcement de la coopération et de l’assistance" in french
    assert "<bdi>Thaïlande</bdi>" in french and "Présidence aujourd" in french
    assert "Membres et leurs mandats" in french
    assert "<bdi>تايلند</bdi>" in arabic and "الرئاسة اليوم" in arabic
    # The English name of the committee on an Arabic page says it is English.
    assert '<h1 lang="en" dir="ltr">Committee on the Enhancement' in arabic
    assert missing.status_code == 404 and other_event.status_code == 404
    # The programme links the session's committee.
    assert '<a href="/committees/cooperation?event=test-event">' in programme


async def test_names_on_the_committee_page_are_text(db, server, world):
    async with db() as s, s.begin():
        term = await s.scalar(
            select(models.CommitteeMembership).where(models.CommitteeMembership.organisation_key == "fr")
        )
        term.names = {"en": "<script>alert(1)</script> & Co"}
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        page = (await client.get("/committees/cooperation")).text
    assert "<script>alert(1)" not in page
    assert "<bdi>&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co</bdi>" in page
