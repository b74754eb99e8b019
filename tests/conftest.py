"""Shared fixtures: real databases, a real uvicorn server, real WebSocket clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
import uvicorn
import websockets

from rooms.delegations import DEFAULT_PRECEDENCE, Tier
from rooms.floor import DEFAULT_TIME_LIMITS
from server import models
from server.app import create_app
from server.db import create_engine, migrate, sessionmaker
from server.kernel import Kernel
from server.serving import listening_socket, uvicorn_config
from server.settings import Settings
from server.tokens import join_token, token_hash
from tests.replica import FloorReplica

POSTGRES_URL = os.environ.get("TRIBUNE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TRIBUNE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
SECRET = "test-secret"


def require_service(name: str, reason: str):
    """Skip when a service is down, unless the run requires services (CI)."""
    message = f"{name} not reachable ({reason}); set it up or run without TRIBUNE_REQUIRE_SERVICES"
    if os.environ.get("TRIBUNE_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


async def reset_postgres(url: str) -> None:
    import asyncpg

    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    try:
        connection = await asyncpg.connect(dsn, timeout=3)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        require_service("PostgreSQL", str(exc))
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()


async def eventually(condition, timeout: float = 10.0) -> None:
    """Wait for a condition to hold (never a fixed sleep)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition did not hold in time")
        await asyncio.sleep(0.01)


class PrivateRedis:
    """A real redis-server of the test's own, on its own port, to stop and start."""

    def __init__(self, port: int):
        self.port = port
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            stdout=asyncio.subprocess.DEVNULL,
        )
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


@contextlib.asynccontextmanager
async def private_redis():
    if shutil.which("redis-server") is None:
        require_service("redis-server", "the redis-server program is not installed")
    redis = PrivateRedis(free_port())
    await redis.start()
    try:
        yield redis
    finally:
        await redis.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request, tmp_path):
    """Every test that stores data runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/tribune.db"
    await reset_postgres(POSTGRES_URL)
    return POSTGRES_URL


@pytest.fixture(params=["memory", "redis"])
async def bus_url(request):
    """Every bus test runs in process and over Redis (when reachable)."""
    if request.param == "memory":
        return "memory://"
    import redis.asyncio as redis

    client = redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (OSError, redis.ConnectionError) as exc:
        require_service("Redis", str(exc))
    finally:
        await client.aclose()
    return REDIS_URL


@pytest.fixture
async def db(database_url):
    engine = create_engine(database_url)
    await migrate(engine)
    yield sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def kernels(db):
    """Makes kernels on ``db`` (``kernels(bus, registry, stores, ...)``), each
    closed before its engine is disposed: a kernel keeps connections open."""
    made: list[Kernel] = []

    def make(*args, **kwargs) -> Kernel:
        kernel = Kernel(db, *args, **kwargs)
        made.append(kernel)
        return kernel

    yield make
    for kernel in made:
        await kernel.close()


@dataclass
class World:
    """A small event: one session, delegations of every tier, people in each role."""

    event_id: int = 0
    session_id: int = 0
    delegations: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    participants: dict[str, int] = field(default_factory=dict)


PEOPLE = {
    # key: (name, delegation key, roles)
    "chair": ("Chair of the Committee", "th", ["chair"]),
    "secretariat": ("ISU Secretariat", None, ["organizer", "moderator"]),
    "france": ("Delegate of France", "fr", ["participant"]),
    "france2": ("Second delegate of France", "fr", ["participant"]),
    "peru": ("Delegate of Peru", "pe", ["participant"]),
    "usa": ("Delegate of the United States", "us", ["participant"]),
    "icrc": ("Delegate of the ICRC", "icrc", ["participant"]),
    "icbl": ("Delegate of the ICBL", "icbl", ["participant"]),
    "interpreter": ("Interpreter (fr)", None, ["interpreter"]),
    "observer": ("An observer", None, ["observer"]),
    "presenter": ("Panel presenter", "pe", ["presenter"]),
}

DELEGATIONS = {
    "th": ("Thailand", Tier.STATE_PARTY),
    "fr": ("France", Tier.STATE_PARTY),
    "pe": ("Peru", Tier.STATE_PARTY),
    "us": ("United States of America", Tier.OBSERVER_STATE),
    "icrc": ("International Committee of the Red Cross", Tier.INTERNATIONAL_ORGANISATION),
    "icbl": ("International Campaign to Ban Landmines", Tier.CIVIL_SOCIETY),
}


async def build_world(maker) -> World:
    world = World()
    start = datetime(2020, 12, 4, 12, 30, tzinfo=UTC)
    async with maker() as s, s.begin():
        event = models.Event(
            slug="test-event", title="Test event", timezone="Europe/Brussels", languages=["ar", "en", "fr", "es", "ils"]
        )
        s.add(event)
        await s.flush()
        session = models.Session(
            event_id=event.id,
            key="panel",
            title="Panel",
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            precedence=[t.value for t in DEFAULT_PRECEDENCE],
            time_limits={t.value: v for t, v in DEFAULT_TIME_LIMITS.items()},
            point_of_order_limit=60,
            right_of_reply_limit=120,
        )
        s.add(session)
        for key, (name, tier) in DELEGATIONS.items():
            delegation = models.Delegation(event_id=event.id, key=key, name=name, kind=tier.value)
            s.add(delegation)
            await s.flush()
            world.delegations[key] = delegation.id
        await s.flush()
        for key, (name, delegation_key, roles) in PEOPLE.items():
            token = join_token(SECRET, event.slug, key, 1)
            participant = models.Participant(
                event_id=event.id,
                key=key,
                name=name,
                delegation_id=world.delegations.get(delegation_key),
                token_hash=token_hash(token),
                roles=[models.ParticipantRole(role=role) for role in roles],
            )
            s.add(participant)
            await s.flush()
            world.tokens[key] = token
            world.participants[key] = participant.id
        world.event_id, world.session_id = event.id, session.id
        # A committee whose meeting the session is (seed 004): Thailand chairs
        # it, from before the session until long after today.
        committee = models.Committee(
            event_id=event.id,
            key="cooperation",
            name="Committee on the Enhancement of Cooperation and Assistance",
            names={
                "en": "Committee on the Enhancement of Cooperation and Assistance",
                "fr": "Comité sur le renforcement de la coopération et de l’assistance",
            },
        )
        s.add(committee)
        await s.flush()
        for position, (key, names, role, start, end) in enumerate(COMMITTEE_TERMS):
            s.add(
                models.CommitteeMembership(
                    committee_id=committee.id,
                    position=position,
                    organisation_key=key,
                    organisation_name=names["en"],
                    names=names,
                    role=role,
                    start_date=start,
                    end_date=end,
                )
            )
        session.committee_id = committee.id
    return world


COMMITTEE_TERMS = [
    ("pe", {"en": "Peru", "es": "Perú"}, "chair", date(2019, 1, 1), date(2020, 11, 30)),
    ("fr", {"en": "France"}, "member", date(2019, 1, 1), date(2020, 12, 31)),
    ("th", {"en": "Thailand", "ar": "تايلند", "fr": "Thaïlande"}, "chair", date(2020, 12, 1), date(2099, 12, 31)),
    (
        "gb",
        {"en": "United Kingdom of Great Britain and Northern Ireland"},
        "vice_chair",
        date(2020, 1, 1),
        date(2099, 12, 31),
    ),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """A real uvicorn server in this event loop; it can be stopped and started
    again on the same database to prove nothing is lost."""

    def __init__(self, settings: Settings, bus=None, registry=None):
        self.settings = settings
        self.bus = bus
        self.registry = registry
        self.server: uvicorn.Server | None = None
        self.task: asyncio.Task | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.settings.port}"

    async def start(self) -> None:
        self.app = create_app(self.settings, bus=self.bus, registry=self.registry)
        self.server = uvicorn.Server(uvicorn_config(self.app, self.settings, log_level="warning", lifespan="on"))
        self.task = asyncio.create_task(self.server.serve(sockets=[listening_socket(self.settings)]))
        while not self.server.started:
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task

    async def restart(self) -> None:
        await self.stop()
        await self.start()


@pytest.fixture
async def world(db):
    return await build_world(db)


@pytest.fixture
async def server(database_url, world):
    live = LiveServer(Settings(database_url=database_url, secret=SECRET, port=free_port()))
    await live.start()
    yield live
    await live.stop()


class Client:
    """A participant's WebSocket, reading messages as a page would.

    Waiting for a reply keeps the events that arrive meanwhile, so a test can
    still read them in order with next_event()."""

    def __init__(self, socket, first: dict | None = None):
        self.socket = socket
        self.first = first
        self.backlog: list[dict] = []
        self.counter = 0
        # The floor as this client holds it, from its snapshot and the events.
        self.replica: FloorReplica | None = None

    async def _read(self, timeout: float) -> dict:
        message = json.loads(await asyncio.wait_for(self.socket.recv(), timeout))
        if message["type"] == "snapshot":
            self.replica = FloorReplica(message)
        elif message["type"] == "heartbeat" and self.replica is not None:
            self.replica.advance(message["seq"])
        elif message["type"] not in ("ack", "error", "pong", "resumed", "heartbeat") and self.replica is not None:
            self.replica.apply(message)
        if self.replica is not None and message["type"] not in ("ack", "error", "pong", "heartbeat"):
            # What a page would draw after this message.
            message["replica"] = self.replica.view()
        return message

    async def recv(self, timeout: float = 5) -> dict:
        if self.backlog:
            return self.backlog.pop(0)
        return await self._read(timeout)

    async def send(self, type_: str, **fields) -> str:
        self.counter += 1
        command_id = f"c{self.counter}"
        await self.socket.send(json.dumps({"type": type_, "id": command_id, **fields}))
        return command_id

    async def reply_to(self, command_id: str, timeout: float = 5) -> dict:
        """The ack, error or pong for a command; other messages stay for later."""
        for index, message in enumerate(self.backlog):
            if message.get("id") == command_id and message["type"] in ("ack", "error", "pong"):
                return self.backlog.pop(index)
        while True:
            message = await self._read(timeout)
            if message.get("id") == command_id and message["type"] in ("ack", "error", "pong"):
                return message
            self.backlog.append(message)

    async def command(self, type_: str, **fields) -> dict:
        return await self.reply_to(await self.send(type_, **fields))

    async def next_event(self, type_: str | None = None, timeout: float = 5) -> dict:
        """The next session event (optionally of one type), skipping replies."""
        while True:
            message = await self.recv(timeout)
            if message["type"] not in ("ack", "error", "pong", "snapshot", "resumed", "heartbeat"):
                if type_ is None or message["type"] == type_:
                    return message

    async def close(self) -> None:
        await self.socket.close()


async def open_client(
    server, world, who: str, *, last_seq: int | None = None, session_id: int | None = None, read_first=True
) -> Client:
    """That participant's socket on ``server``, its snapshot read."""
    url = f"{server.ws_url}/ws/sessions/{session_id or world.session_id}?token={world.tokens[who]}"
    if last_seq is not None:
        url += f"&last_seq={last_seq}"
    client = Client(await websockets.connect(url, max_size=2**22))
    if read_first:
        client.first = await client.recv()
    return client


@pytest.fixture
async def connect(server, world):
    """connect("france") opens that participant's socket and reads the snapshot."""
    opened: list[Client] = []

    async def _connect(who: str, *, last_seq: int | None = None, session_id: int | None = None, read_first=True):
        client = await open_client(server, world, who, last_seq=last_seq, session_id=session_id, read_first=read_first)
        opened.append(client)
        return client

    yield _connect
    for client in opened:
        await client.close()
