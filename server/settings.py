"""Typed settings, read once from the environment (prefix ``TRIBUNE_``)."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_FILE = ".tribune-secret"
# Where `tribune serve` writes the address its links carry, for `tribune links`
# and `tribune revoke` run beside it (they cannot know `serve --port`).
ADDRESS_FILE = ".tribune-address"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRIBUNE_", frozen=True)

    database_url: str = "sqlite+aiosqlite:///tribune.db"
    bus_url: str = "memory://"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # Join links are derived from the secret (HMAC), so the same secret must be
    # kept for links to stay valid; see server/tokens.py.
    secret: str = ""
    # Public address used in printed join links; defaults to http://host:port.
    public_url: str = ""
    # Extra origins allowed to open the WebSocket besides the page's own host.
    allowed_origins: list[str] = []
    # How far back a reconnecting client is replayed, in events and in bytes;
    # beyond either, it gets a snapshot.
    replay_limit: int = Field(1000, ge=1)
    replay_limit_bytes: int = Field(1024 * 1024, ge=1024)
    # How often each process tells its sockets the session's last seq, so a
    # lost last event is noticed and filled from the log.
    heartbeat_seconds: float = Field(5.0, gt=0)
    # How long a stopping server waits for its connections to close before it exits anyway.
    shutdown_grace_seconds: int = Field(10, ge=1)
    # How soon a revoked link or a removed role ends its open sockets: each
    # process reads its sessions' revision this often.
    access_check_seconds: float = Field(0.5, gt=0)
    # How often at most the counts everyone sees (question votes) are told, per session.
    counts_every_seconds: float = Field(0.25, gt=0)
    # Messages held for a socket whose snapshot is being read, before the
    # client is disconnected (it resumes by last_seq).
    send_queue_size: int = Field(256, ge=8)
    # Bytes a client may leave unread in this process (beyond the kernel's
    # send buffer) before it is cut with 4408: a client that stops reading
    # is noticed by what waits for it, and never slows the others.
    send_buffer_bytes: int = Field(64 * 1024, ge=4096)
    # A live socket is pinged this often; no answer by the next ping, it is dropped.
    ping_seconds: float = Field(20.0, ge=0)
    # The kernel's send buffer per socket, in bytes (0: the system's default,
    # which grows to megabytes for a client that stops reading).
    socket_send_buffer: int = Field(64 * 1024, ge=0)
    max_message_bytes: int = Field(16 * 1024, ge=512)
    # Flood control: sustained frames per second and burst, per participant.
    commands_per_second: float = Field(10.0, gt=0)
    command_burst: int = Field(30, ge=1)
    # An interpreter on air whose last socket closed keeps the mic this long
    # (a reload, a short cut); their partner may take it over meanwhile.
    mic_release_grace_seconds: float = Field(5.0, ge=0)
    # E-mail (server/mail.py): smtp://user:password@host:587?starttls=true or
    # smtps://host:465; empty: messages wait in the organizer console's outbox.
    smtp_url: str = ""
    mail_from: str = "Tribune <tribune@localhost>"
    # How often the outbox is looked at for what is due (a new message wakes it at once).
    mail_poll_seconds: float = Field(5.0, gt=0)

    @cached_property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    def served_address(self) -> Settings:
        """These settings with the address the server here announced, when no
        TRIBUNE_PUBLIC_URL says otherwise."""
        path = Path(ADDRESS_FILE)
        if self.public_url or not path.exists():
            return self
        return self.model_copy(update={"public_url": path.read_text().strip()})

    def remember_address(self) -> None:
        """Keep this server's address beside its secret (see ``served_address``)."""
        Path(ADDRESS_FILE).write_text(self.base_url + "\n")

    def with_secret(self) -> Settings:
        """Return settings whose secret is set, creating a local one if needed.

        Without TRIBUNE_SECRET, a random secret is kept in ``.tribune-secret``
        in the working directory, so that join links survive restarts.
        """
        if self.secret:
            return self
        path = Path(SECRET_FILE)
        if path.exists():
            secret = path.read_text().strip()
        else:
            secret = secrets.token_urlsafe(32)
            path.write_text(secret + "\n")
            path.chmod(0o600)
        return self.model_copy(update={"secret": secret})


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides).with_secret()
