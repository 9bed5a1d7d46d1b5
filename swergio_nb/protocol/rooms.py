"""Room membership bookkeeping (sans-I/O): which connections are in which rooms, nothing about delivery."""

from __future__ import annotations

from collections.abc import Hashable, Iterable

__all__ = ["Rooms"]


class Rooms:
    """Membership of connections in named rooms.

    A room exists while it has members: it is created by the first :meth:`join` and removed when its last member
    leaves. Connection ids are any hashable value (the router uses ints).
    """

    def __init__(self) -> None:
        self._members: dict[str, set[Hashable]] = {}
        self._rooms_of: dict[Hashable, set[str]] = {}

    def join(self, conn: Hashable, room: str) -> bool:
        """Add ``conn`` to ``room``; returns False if it already was a member."""
        members = self._members.setdefault(room, set())
        if conn in members:
            return False
        members.add(conn)
        self._rooms_of.setdefault(conn, set()).add(room)
        return True

    def leave(self, conn: Hashable, room: str) -> bool:
        """Remove ``conn`` from ``room``; returns False if it was not a member."""
        members = self._members.get(room)
        if members is None or conn not in members:
            return False
        members.discard(conn)
        if not members:
            del self._members[room]
        rooms = self._rooms_of[conn]
        rooms.discard(room)
        if not rooms:
            del self._rooms_of[conn]
        return True

    def leave_all(self, conn: Hashable) -> list[str]:
        """Remove ``conn`` from every room; returns the rooms it left."""
        left = sorted(self._rooms_of.get(conn, ()))
        for room in left:
            self.leave(conn, room)
        return left

    def members(self, room: str) -> frozenset[Hashable]:
        """The connections in ``room`` (empty if the room does not exist)."""
        return frozenset(self._members.get(room, ()))

    def members_view(self, room: str) -> Iterable[Hashable]:
        """The live member set of ``room`` without copying (do not mutate rooms while iterating it)."""
        return self._members.get(room, ())

    def rooms_of(self, conn: Hashable) -> frozenset[str]:
        """The rooms ``conn`` is a member of."""
        return frozenset(self._rooms_of.get(conn, ()))

    def names(self) -> list[str]:
        """All rooms that have at least one member, sorted."""
        return sorted(self._members)

    def __contains__(self, room: object) -> bool:
        return room in self._members

    def __len__(self) -> int:
        return len(self._members)
