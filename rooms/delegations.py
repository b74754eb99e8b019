"""Delegation tiers in the UN order of precedence."""

from __future__ import annotations

from enum import StrEnum


class Tier(StrEnum):
    STATE_PARTY = "state_party"
    OBSERVER_STATE = "observer_state"
    INTERNATIONAL_ORGANISATION = "international_organisation"
    CIVIL_SOCIETY = "civil_society"


DEFAULT_PRECEDENCE: tuple[Tier, ...] = (
    Tier.STATE_PARTY,
    Tier.OBSERVER_STATE,
    Tier.INTERNATIONAL_ORGANISATION,
    Tier.CIVIL_SOCIETY,
)

TIER_LABELS = {
    Tier.STATE_PARTY: "State Party",
    Tier.OBSERVER_STATE: "Observer State",
    Tier.INTERNATIONAL_ORGANISATION: "International organisation",
    Tier.CIVIL_SOCIETY: "Civil society",
}

# The seeds' rule: at most three people per delegation, one of them sponsored.
DEFAULT_MAX_MEMBERS = 3
MAX_SPONSORED = 1
