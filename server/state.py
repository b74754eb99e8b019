"""How the kernel keeps each domain's state of a session, knowing none of them.

A domain's store (``server/floor_store.py``, ``question_store.py``,
``booth_store.py``) subclasses ``Store`` for its aggregate: how to load it
for a session, how to write what a command changed, and whether it changed.
The app composes the stores beside the command sets (``server.app``); the
kernel, ``server.held`` and the handlers' ``ctx.state(Kind)`` go through
this interface only, so a new domain adds a store, not a branch in the
kernel.

What a command may leave behind: a store opened by a command that was
refused is dropped, whatever the domain method did before refusing, so the
next command reads it again from the database; stores the command did not
open are kept (``server.held``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from server import models

S = TypeVar("S")


class Access(Protocol):
    """What a store may use inside the command's transaction."""

    @property
    def connection(self) -> AsyncConnection:
        """The command's connection: plain statements, no ORM."""
        ...

    @property
    def db(self) -> AsyncSession:
        """An ORM session on the same transaction, opened on first use."""
        ...

    @property
    def session(self) -> models.Session:
        """The session row, detached; its changed columns are written by the kernel."""
        ...

    @property
    def now(self) -> datetime: ...

    @property
    def secret(self) -> str:
        """The server's secret, from which private links are derived (server/tokens.py)."""
        ...


class Store(ABC, Generic[S]):
    """One domain's state of one session, as the kernel holds it."""

    # The aggregate handlers ask for: ``await ctx.state(kind)``.
    kind: ClassVar[type[Any]]
    # Kept between commands while nobody else wrote the session; False for
    # state that changes without a command (the booths follow who is present).
    is_held: ClassVar[bool] = True
    # The session row's columns its ``save`` sets (the kernel writes them).
    session_columns: ClassVar[tuple[str, ...]] = ()

    def __init__(self, state: S) -> None:
        self.state = state

    @classmethod
    @abstractmethod
    async def load(cls, tx: Access, parts: tuple[int, ...]) -> Store[S]:
        """Read the aggregate, with the ``parts`` a handler asked for."""

    async def extend(self, tx: Access, parts: tuple[int, ...]) -> None:
        """Read more of an aggregate already loaded (the votes of some questions)."""

    @abstractmethod
    async def save(self, tx: Access) -> None:
        """Write what changed since the last save; the session row's columns
        it sets are written by the kernel."""

    @abstractmethod
    def has_changes(self, tx: Access) -> bool:
        """Whether there is anything unsaved: a command that changed state
        must record an event, since other processes tell a stale copy by
        the session's last seq alone."""


class Stores:
    """The stores the app composed, by the kind of aggregate they keep."""

    def __init__(self, stores: Sequence[type[Store[Any]]]) -> None:
        self.by_kind: dict[type[Any], type[Store[Any]]] = {}
        for store in stores:
            if store.kind in self.by_kind:
                raise ValueError(f"two stores keep {store.kind.__name__}")
            self.by_kind[store.kind] = store
        self.session_columns = tuple(dict.fromkeys(name for store in stores for name in store.session_columns))

    def __getitem__(self, kind: type[Any]) -> type[Store[Any]]:
        store = self.by_kind.get(kind)
        if store is None:
            raise LookupError(f"no store keeps {kind.__name__}: compose one in server.app")
        return store
