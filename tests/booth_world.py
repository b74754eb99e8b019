"""Interpreters and a captioner added to the test world, as an event file would give them."""

from __future__ import annotations

from server import models
from server.tokens import join_token, token_hash
from tests.conftest import SECRET, World

# key: (name, role, language, works from)
STAFF = {
    "fr1": ("Hélène Rousseau", "interpreter", "fr", ["en", "es"]),
    "fr2": ("Antoine Lefèvre", "interpreter", "fr", ["en", "es"]),
    "fr3": ("Claire Dumas", "interpreter", "fr", ["en", "es"]),
    "en1": ("James Whitfield", "interpreter", "en", ["ar", "fr", "es"]),
    "ar1": ("Layla Mansour", "interpreter", "ar", ["en", "fr"]),
    "captioner": ("Grace Captioner", "captioner", "en", []),
}


async def add_booth_staff(maker, world: World) -> World:
    async with maker() as db, db.begin():
        for key, (name, role, language, works_from) in STAFF.items():
            token = join_token(SECRET, "test-event", key, 1)
            person = models.Participant(
                event_id=world.event_id,
                key=key,
                name=name,
                token_hash=token_hash(token),
                roles=[models.ParticipantRole(role=role)],
            )
            db.add(person)
            await db.flush()
            db.add(
                models.LanguageAssignment(
                    event_id=world.event_id,
                    participant_id=person.id,
                    role=role,
                    language=language,
                    works_from=works_from,
                )
            )
            world.tokens[key] = token
            world.participants[key] = person.id
    return world
