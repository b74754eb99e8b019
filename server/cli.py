"""The ``tribune`` command: serve, migrate, load, links, export.

Every command reads the settings once and brings the schema up to date
first, so a fresh checkout needs no separate setup step.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import db
from server.settings import SECRET_FILE, Settings, load_settings

Sessions = async_sessionmaker[AsyncSession]
# A participant's entry of `tribune links`.
Entry = dict[str, Any]
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

DEMO_FILE = Path(__file__).parent / "demo" / "coop-assist-2020.yaml"
DEMO_SLUG = "coop-assist-2020"


def _settings(**overrides: Any) -> Settings:
    return load_settings(**{name: value for name, value in overrides.items() if value is not None})


def _run(settings: Settings, work: Callable[[Sessions], Awaitable[T]]) -> T:
    """Migrate, then run ``work(sessionmaker)`` on one engine, in one event loop."""

    async def main() -> T:
        engine = db.create_engine(settings.database_url)
        try:
            await db.migrate(engine)
            return await work(db.sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Tribune: hybrid multilateral meetings (list of speakers, interpretation).

    Settings come from TRIBUNE_* environment variables (TRIBUNE_DATABASE_URL,
    TRIBUNE_SECRET, TRIBUNE_HOST, TRIBUNE_PORT, TRIBUNE_PUBLIC_URL...)."""


@main.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    settings = _settings()

    async def nothing(_sessionmaker: Sessions) -> None:
        return None

    _run(settings, nothing)
    click.echo("Schema up to date.")


@main.command()
@click.argument("event_file", type=click.Path(dir_okay=False, path_type=Path))
def load(event_file: Path) -> None:
    """Create or update the event described in EVENT_FILE (YAML).

    Loading a file again updates the event; nothing is written if the file
    has any problem. See docs/event-format.md."""
    from server.links import WrongSecret
    from server.loader import EventFileError, LoadReport, load_event_file

    settings = _settings()

    async def work(sessionmaker: Sessions) -> LoadReport:
        return await load_event_file(sessionmaker, event_file, settings.secret)

    try:
        report = _run(settings, work)
    except EventFileError as error:
        click.echo(str(error), err=True)
        click.echo("Nothing was loaded.", err=True)
        sys.exit(1)
    except WrongSecret as wrong:
        click.echo(
            f"The secret here is not the one event {wrong} was loaded with: loading with it would void every "
            f"join link already sent. Run `tribune load` where `tribune serve` runs (beside its {SECRET_FILE}), "
            "or set TRIBUNE_SECRET to the server's secret. Nothing was loaded.",
            err=True,
        )
        sys.exit(1)
    click.echo(report.summary())


@main.command()
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "json"]), default="text", show_default=True)
@click.option("--event", "event_slug", help="Only this event (its slug).")
@click.option(
    "--url",
    "public_url",
    help="The address people reach the server at (default: TRIBUNE_PUBLIC_URL, "
    "else the one `tribune serve` announced in this directory).",
)
def links(fmt: str, event_slug: str | None, public_url: str | None) -> None:
    """Print every participant's personal join link.

    Links are derived from the secret the events were loaded with: run this
    where `tribune serve` runs (beside its .tribune-secret), or set TRIBUNE_SECRET.
    They carry the address `tribune serve` announced there (its --host and
    --port), TRIBUNE_PUBLIC_URL, or --url."""
    from server.links import WrongSecret, participant_links

    settings = (Settings(public_url=public_url) if public_url else Settings()).served_address()
    if not settings.secret:
        if not Path(SECRET_FILE).exists():
            _refuse_links(f"No secret here: there is no TRIBUNE_SECRET and no {SECRET_FILE} in this directory.")
        settings = settings.with_secret()
    try:
        entries = _run(settings, lambda sessionmaker: participant_links(sessionmaker, settings, event_slug))
    except WrongSecret as wrong:
        _refuse_links(f"The secret here is not the one event {wrong} was loaded with, so its links would be refused.")
    if fmt == "json":
        click.echo(json.dumps(entries, ensure_ascii=False, indent=2))
    elif fmt == "csv":
        click.echo(_links_csv(entries), nl=False)
    else:
        click.echo(_links_table(entries))


def _refuse_links(reason: str) -> NoReturn:
    click.echo(reason, err=True)
    click.echo(
        f"Run `tribune links` in the directory where `tribune serve` runs (it keeps {SECRET_FILE} there), "
        "or set TRIBUNE_SECRET to the server's secret. No links were printed.",
        err=True,
    )
    sys.exit(1)


@main.command()
@click.argument("participant")
@click.option("--event", "event_slug", help="The event's slug, when several events have a participant with this key.")
def revoke(participant: str, event_slug: str | None) -> None:
    """Revoke PARTICIPANT's join link (their key in the event file).

    The old link opens nothing from now on: running servers close its open
    sockets, sound and video included, within a second. The person keeps
    their roles and gets a new link, printed here (and by `tribune links`);
    to take their access away too, give them `roles: []` in the event file.
    Run it where `tribune serve` runs (beside its .tribune-secret), or set
    TRIBUNE_SECRET."""
    from server.links import WrongSecret
    from server.revocation import NoSuchParticipant, revoke_link
    from server.tokens import join_url

    settings = Settings().served_address()
    if not settings.secret:
        if not Path(SECRET_FILE).exists():
            _refuse_revoke(f"No secret here: there is no TRIBUNE_SECRET and no {SECRET_FILE} in this directory.")
        settings = settings.with_secret()
    try:
        revoked = _run(
            settings, lambda sessionmaker: revoke_link(sessionmaker, settings.secret, participant, event_slug)
        )
    except NoSuchParticipant as missing:
        click.echo(f"{missing} Nothing was revoked.", err=True)
        sys.exit(1)
    except WrongSecret as wrong:
        _refuse_revoke(f"The secret here is not the one event {wrong} was loaded with.")
    click.echo(f"Revoked the join link of {revoked.name} ({revoked.event_slug}/{revoked.key}).")
    click.echo(f"Their new link: {join_url(settings.base_url, revoked.token)}")


def _refuse_revoke(reason: str) -> NoReturn:
    click.echo(reason, err=True)
    click.echo(
        f"Run `tribune revoke` in the directory where `tribune serve` runs (it keeps {SECRET_FILE} there), "
        "or set TRIBUNE_SECRET to the server's secret. Nothing was revoked.",
        err=True,
    )
    sys.exit(1)


def _roles_text(entry: Entry) -> str:
    parts = [",".join(entry["roles"]) or "-"]
    if entry.get("booth"):
        parts.append(f"booth:{entry['booth']}")
    parts += [f"{key}:{','.join(roles)}" for key, roles in entry["session_roles"].items()]
    return " ".join(parts)


def _links_csv(entries: list[Entry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["event", "key", "name", "delegation", "tier", "roles", "session_roles", "sessions", "url"])
    for entry in entries:
        writer.writerow(
            [
                entry["event"],
                entry["key"],
                entry["name"],
                entry["delegation"] or "",
                entry["tier"] or "",
                ";".join(entry["roles"]),
                ";".join(f"{key}:{','.join(roles)}" for key, roles in entry["session_roles"].items()),
                ";".join(session["key"] for session in entry["sessions"]),
                entry["url"],
            ]
        )
    return out.getvalue()


def _links_table(entries: list[Entry]) -> str:
    if not entries:
        return "No participants. Load an event first: tribune load EVENT.yaml"
    rows = [("EVENT", "KEY", "NAME", "DELEGATION", "ROLES", "URL")]
    rows += [(e["event"], e["key"], e["name"], e["delegation"] or "-", _roles_text(e), e["url"]) for e in entries]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in rows)


@main.group()
def export() -> None:
    """Export meeting records."""


def _output_option(command: F) -> F:
    return click.option(
        "--output",
        "-o",
        type=click.Path(dir_okay=False, writable=True, path_type=Path),
        help="Write to this file instead of standard output.",
    )(command)


def _export(what: str, write: Callable[[Sessions, io.StringIO], Awaitable[int]], output: Path | None) -> None:
    """Run ``write(sessionmaker, out)`` and send the CSV to stdout or ``output``."""
    from server.export import UnknownSession

    out = io.StringIO()
    try:
        count = _run(_settings(), lambda sessionmaker: write(sessionmaker, out))
    except UnknownSession as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)
    if output is None:
        click.echo(out.getvalue(), nl=False)
    else:
        output.write_text(out.getvalue(), encoding="utf-8", newline="")
        click.echo(f"{count} {what} written to {output}", err=True)


@export.command("speeches")
@click.argument("session")
@click.option("--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True)
@_output_option
def export_speeches_command(session: str, fmt: str, output: Path | None) -> None:
    """Export the speeches of SESSION (an id, EVENT_SLUG/SESSION_KEY, or a unique session key)."""
    from server.export import export_speeches

    _export("speeches", lambda sessionmaker, out: export_speeches(sessionmaker, session, out), output)


@export.command("questions")
@click.argument("session")
@click.option("--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True)
@click.option("--with-authors", is_flag=True, help="Name the authors of anonymous questions too.")
@_output_option
def export_questions_command(session: str, fmt: str, with_authors: bool, output: Path | None) -> None:
    """Export the questions of SESSION (an id, EVENT_SLUG/SESSION_KEY, or a unique session key)."""
    from server.question_export import export_questions

    _export(
        "questions",
        lambda sessionmaker, out: export_questions(sessionmaker, session, out, with_authors=with_authors),
        output,
    )


@export.command("captions")
@click.argument("session")
@_output_option
def export_captions_command(session: str, output: Path | None) -> None:
    """Export the live captions of SESSION as CSV, each with its time and speech."""
    from server.export import export_captions

    _export("captions", lambda sessionmaker, out: export_captions(sessionmaker, session, out), output)


def _write_binary_or_text(data: bytes | str, output: Path | None, what: str) -> None:
    if isinstance(data, bytes):
        if output is None:
            if sys.stdout.isatty():
                click.echo("Error: a spreadsheet is not for a terminal; give --output FILE.xlsx", err=True)
                sys.exit(2)
            sys.stdout.buffer.write(data)
            return
        output.write_bytes(data)
    elif output is None:
        click.echo(data, nl=False)
    else:
        output.write_text(data, encoding="utf-8", newline="")
    if output is not None:
        click.echo(f"{what} written to {output}", err=True)


@export.command("participants")
@click.argument("event_slug")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option("--with-contacts", is_flag=True, help="Add each person's e-mail (for the secretariat only).")
@_output_option
def export_participants_command(event_slug: str, fmt: str, with_contacts: bool, output: Path | None) -> None:
    """The list of participants of EVENT_SLUG, by delegation in the order of precedence."""
    from sqlalchemy import select

    from server import models
    from server.participant_list import participant_rows, participants_csv, participants_xlsx

    async def work(sessionmaker: Sessions) -> bytes | str | None:
        async with sessionmaker() as db:
            event = await db.scalar(select(models.Event).where(models.Event.slug == event_slug))
            if event is None:
                return None
            rows = await participant_rows(db, event.id)
        if fmt == "xlsx":
            return participants_xlsx(rows, event.title, with_contacts=with_contacts)
        out = io.StringIO()
        participants_csv(rows, out, with_contacts=with_contacts)
        return out.getvalue()

    data = _run(_settings(), work)
    if data is None:
        click.echo(f"Error: no event {event_slug!r}", err=True)
        sys.exit(1)
    _write_binary_or_text(data, output, "The list of participants")


@export.command("attendance")
@click.argument("session")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@_output_option
def export_attendance_command(session: str, fmt: str, output: Path | None) -> None:
    """Who attended SESSION: first join, last leave (the event's time zone) and minutes."""
    from server.export import UnknownSession, resolve_session
    from server.models import utcnow
    from server.participant_list import attendance_csv, attendance_rows, attendance_xlsx

    async def work(sessionmaker: Sessions) -> bytes | str:
        async with sessionmaker() as db:
            found = await resolve_session(db, session)
            rows = await attendance_rows(db, found.id, utcnow())
            title = f"{found.title}: attendance"
        if fmt == "xlsx":
            return attendance_xlsx(rows, title)
        out = io.StringIO()
        attendance_csv(rows, out)
        return out.getvalue()

    try:
        data = _run(_settings(), work)
    except UnknownSession as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)
    _write_binary_or_text(data, output, "The attendance")


@main.command()
@click.option("--demo", is_flag=True, help="Load the demo event into an empty database and print join links.")
@click.option("--host", help="Address to listen on (default TRIBUNE_HOST or 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default TRIBUNE_PORT or 8000).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Server processes sharing the address; more than one needs TRIBUNE_BUS_URL=redis://...",
)
def serve(demo: bool, host: str | None, port: int | None, workers: int) -> None:
    """Run the web server (migrating the database first)."""
    settings = _settings(host=host, port=port)
    if workers > 1 and settings.bus_url.startswith("memory"):
        raise click.UsageError("--workers needs a bus between the processes: set TRIBUNE_BUS_URL=redis://host:6379/0")

    async def prepare(sessionmaker: Sessions) -> str | None:
        if demo:
            return await _prepare_demo(sessionmaker, settings)
        return None

    text = _run(settings, prepare)
    if text:
        click.echo(text)

    from server.app import create_app
    from server.serving import serve as serve_app

    settings.remember_address()
    serve_app(create_app, settings, workers)


async def _prepare_demo(sessionmaker: Sessions, settings: Settings) -> str:
    from sqlalchemy import func, select

    from server import models
    from server.links import participant_links
    from server.loader import load_event_file

    async with sessionmaker() as session:
        has_events = await session.scalar(select(func.count()).select_from(models.Event))
    lines = []
    if not has_events:
        await load_event_file(sessionmaker, DEMO_FILE, settings.secret)
        lines.append(f"Loaded the demo event {DEMO_SLUG!r}.")
    entries = await participant_links(sessionmaker, settings, DEMO_SLUG)
    if not entries:
        return "The database already holds events, so the demo was not loaded; see `tribune links`."
    return "\n".join(lines + demo_links(entries, settings.base_url))


def _plain_participant(entry: Entry, tier: str) -> bool:
    return bool(entry["tier"] == tier and entry["roles"] == ["participant"] and not entry["session_roles"])


def demo_links(entries: list[Entry], base_url: str) -> list[str]:
    """The few links worth printing to try the demo, one person per part.

    The moderator is one who runs the floor of every session, so that every
    link printed here lands on the same session (server/landing.py)."""
    from rooms.delegations import DEFAULT_PRECEDENCE, TIER_LABELS
    from rooms.roles import Role, runs_floor

    def first(test: Callable[[Entry], bool]) -> Entry | None:
        return next((entry for entry in entries if test(entry)), None)

    def moderates_all(entry: Entry) -> bool:
        return bool(entry["sessions"]) and all(
            runs_floor({Role(role) for role in session["roles"]}) for session in entry["sessions"]
        )

    picks: list[tuple[str, Entry | None]] = [("Moderator console (secretariat)", first(moderates_all))]
    for tier in DEFAULT_PRECEDENCE:
        picks.append(
            (
                f"Participant, {TIER_LABELS[tier]}",
                first(partial(_plain_participant, tier=tier.value)),
            )
        )
    # Both French interpreters, to try a handover; the link opens the booth.
    french = [e for e in entries if "interpreter" in e["roles"] and e.get("booth") == "fr"]
    for n, interpreter in enumerate(french[:2], start=1):
        picks.append((f"Interpreter {n}, French booth", interpreter))
    picks.append(("Interpreter, International Sign", first(lambda e: e.get("booth") == "ils")))
    picks.append(("Captioner", first(lambda e: "captioner" in e["roles"])))
    # An observer's link opened with ?to=screen shows the projector view on the room's computer.
    screen = first(lambda e: e["roles"] == ["observer"] and "screen" in f"{e['key']} {e['name']}".lower())
    screen = screen or first(lambda e: e["roles"] == ["observer"])
    if screen is not None:
        picks.append(("Projector in the room", {**screen, "url": screen["url"] + "?to=screen"}))
    # ?to=organize: the organizer's console (registration, invitations, the outbox, the lists).
    organizer = first(lambda e: "organizer" in e["roles"])
    if organizer is not None:
        picks.append(("Organizer console (registration)", {**organizer, "url": organizer["url"] + "?to=organize"}))
    lines = ["Demo join links (each sets a cookie and takes you in; open each in its own browser or private window):"]
    for label, entry in picks:
        if entry is not None:
            who = entry["name"] + (f" ({entry['delegation']})" if entry["delegation"] else "")
            lines.append(f"  {label}: {who}\n    {entry['url']}")
    lines.append(f"The programme, with every session: {base_url}/")
    return lines


@export.command("event")
@click.argument("slug")
@_output_option
def export_event_command(slug: str, output: Path | None) -> None:
    """Write event SLUG as an event file (YAML) that `tribune load` loads back."""
    from server.event_export import EventExportError, export_event

    try:
        text = _run(_settings(), lambda sessionmaker: export_event(sessionmaker, slug))
    except EventExportError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"Event {slug!r} written to {output}", err=True)


@main.command("import")
@click.argument("what", type=click.Choice(["delegations", "participants"]))
@click.argument("event_slug")
@click.argument("csv_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def import_command(what: str, event_slug: str, csv_file: Path) -> None:
    """Create or update WHAT (delegations or participants) of EVENT_SLUG from CSV_FILE.

    Rows are matched by key; nothing is written if any row has a problem.
    See README.md for the columns."""
    from server.csv_import import MAX_CSV_BYTES, CsvImportError, import_csv
    from server.links import WrongSecret

    settings = _settings()
    with csv_file.open("rb") as file:
        data = file.read(MAX_CSV_BYTES + 1)
    try:
        report = _run(settings, lambda sessionmaker: import_csv(sessionmaker, event_slug, what, data, settings.secret))  # type: ignore[arg-type]
    except CsvImportError as error:
        click.echo(
            "\n".join(f"{csv_file.name}:{line}: {why}" if line else why for line, why in error.problems), err=True
        )
        click.echo("Nothing was imported.", err=True)
        sys.exit(1)
    except WrongSecret as wrong:
        click.echo(f"The secret here is not the one event {wrong} was loaded with. Nothing was imported.", err=True)
        sys.exit(1)
    click.echo(report.summary())


if __name__ == "__main__":
    main()
