"""rooms.committees: dated memberships with a role; members and chair derived per day (seed 004)."""

from __future__ import annotations

from datetime import date

import pytest

from rooms.committees import Committee, CommitteeRole, Membership
from rooms.errors import Refused

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
