"""Several hubs share their rooms through Redis pub/sub: the backplane of a :class:`~swergio_nb.transport.core.HubCore`.

The convention is python-socketio's ``AsyncRedisManager``: every hub has a random id, publishes on one channel
(``swergio_nb`` by default) and subscribes to it, skips what it published itself, and listens again with a growing
wait (1 s doubling to 30 s) when Redis goes away. Messages are packed with msgpack (never pickle: a hub must not run
what another process wrote).

What crosses hubs: every message a hub routes, as stamped there (``SENT_BY`` is the name the sender registered on
*its* hub), in batches of what was routed since the last publish (one ``PUBLISH`` carries
``[hub id, [[frame, sender, room, to, type], ...]]``). Each other hub hands every entry to its router
(:meth:`~swergio_nb.protocol.router.Router.deliver`): its members of the room, ``TO`` if that name is registered
there, its logging room and its traffic counts; nothing is stamped again or published again, so nothing loops and
nothing is delivered twice. Membership stays on each hub: rooms are never listed in Redis.

Names are unique across hubs. A hub holds ``CHANNEL:name:NAME`` (its id as the value) for each name registered on
it, and keeps ``CHANNEL:hub:ID`` alive (expiring after ``liveness`` seconds, renewed three times within that). A
``REGISTER`` is acknowledged only once its name is claimed, atomically (a Lua script): free, held by this hub, or
held by a hub whose liveness key expired (a hub that died: its clients fail over and take their names back once
``liveness`` has passed). A name held by a live hub is refused with ``name-taken``, the error a duplicate on the same
hub gets. A name given up (the connection left) is released at once, if this hub still holds it.

Semantics (README, "Guarantees and limits"): per-sender order holds across hubs (one publisher task per hub, Redis
keeps a connection's order, each hub delivers in the order it reads); delivery is at most once. While Redis cannot
be reached, messages for other hubs are dropped and counted (``stats.lost``) and names are unique per hub only; the
hub keeps routing between its own connections. A hub that pauses reading Redis (a full local recipient) lets Redis
buffer for it up to Redis's ``client-output-buffer-limit pubsub``; past it Redis closes the subscription, and what it
held is lost. A publisher faster than Redis waits: :meth:`RedisBackplane.receive` makes the sender wait while more
than ``max_backlog_bytes`` wait to be published.

Usage::

    hub = Hub(port=0, backplane="redis://127.0.0.1:6379/0")   # or: swergio-nb hub --backplane redis://...
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import msgpack
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..protocol import codec
from ..protocol.urls import redact

if TYPE_CHECKING:
    from .core import Connection, HubCore

__all__ = [
    "RedisBackplane",
    "BackplaneStats",
    "DEFAULT_CHANNEL",
    "DEFAULT_LIVENESS",
    "SCHEMES",
    "pack_batch",
    "unpack_batch",
]

logger = logging.getLogger("swergio_nb.transport.backplane")

#: The pub/sub channel, and the prefix of every key, of hubs that share rooms.
DEFAULT_CHANNEL = "swergio_nb"
#: Seconds after which the names of a hub that stopped renewing its liveness key may be taken by another hub.
DEFAULT_LIVENESS = 3.0
#: Seconds :meth:`RedisBackplane.stop` waits for its tasks, and then for Redis to release the names.
STOP_TIMEOUT = 2.0
#: URL schemes ``redis.asyncio.from_url`` takes.
SCHEMES = ("redis", "rediss", "unix")

# KEYS[1]: the name's key; ARGV[1]: this hub's id; ARGV[2]: the prefix of liveness keys. 1: claimed, 0: held.
_CLAIM = """
local owner = redis.call('GET', KEYS[1])
if owner == false or owner == ARGV[1] or redis.call('EXISTS', ARGV[2] .. owner) == 0 then
    redis.call('SET', KEYS[1], ARGV[1])
    return 1
end
return 0
"""
# KEYS[1]: the name's key; ARGV[1]: this hub's id. Deletes it only if this hub holds it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


_Entry = tuple[str | bytes, str, str | None, str | None, str]


def pack_batch(hub_id: str, batch: list[_Entry]) -> bytes:
    """One ``PUBLISH``'s payload: ``[hub id, [[frame, sender, room, to, type], ...]]`` in msgpack (a text frame
    stays a msgpack str, a binary one a msgpack bin)."""
    return msgpack.packb([hub_id, batch])


def unpack_batch(data: bytes) -> tuple[str, list[_Entry]]:
    """The hub id and the entries of a payload :func:`pack_batch` made.

    Raises:
        ValueError: ``data`` is not such a payload (what was wrong, briefly).
    """
    try:
        hub, batch = msgpack.unpackb(data)
    except (ValueError, TypeError) as exc:  # msgpack's errors are ValueErrors; a non-pair fails to unpack
        raise ValueError(f"not a hub's batch ({type(exc).__name__})") from None
    if not isinstance(hub, str) or not isinstance(batch, list):
        raise ValueError("not a hub's batch: [hub id, [entries]] expected")
    for entry in batch:
        if not (
            isinstance(entry, list)
            and len(entry) == 5
            and isinstance(entry[0], (str, bytes))
            and isinstance(entry[1], str)
            and all(part is None or isinstance(part, str) for part in entry[2:4])
            and isinstance(entry[4], str)
        ):
            raise ValueError(f"not a hub's batch entry: {str(entry)[:80]}")
    return hub, batch


@dataclass(slots=True)
class BackplaneStats:
    """Counters of one hub's backplane (plain ints)."""

    published: int = 0  #: messages published for the other hubs
    batches: int = 0  #: ``PUBLISH`` commands they took
    received: int = 0  #: messages other hubs published, handed to this hub's router
    lost: int = 0  #: messages not published: Redis could not be reached
    refused: int = 0  #: registrations refused because a live hub holds the name
    resubscribed: int = 0  #: times the subscription was lost and made again


class RedisBackplane:
    """Shares a hub core's rooms with the other hubs on the same Redis channel (see the module docstring).

    Args:
        url: Redis's URL, ``redis://host:port/db`` (``rediss://`` for TLS, ``unix://`` for a socket).
        channel: the channel, and key prefix, the hubs that share rooms have in common.
        liveness: seconds without renewal after which this hub's names may be taken by another hub (> 0).
        max_backlog_bytes: bytes (characters of text frames) waiting to be published above which a sender waits.
        batch_bytes: bytes a single ``PUBLISH`` carries at most (one message larger than that goes alone).

    Raises:
        ValueError: a URL whose scheme is not one of :data:`SCHEMES`, or a bound that is not positive.

    Attributes:
        hub_id: this hub's random id (hex).
        stats: the :class:`BackplaneStats`.
        core: the hub core, once started.
    """

    def __init__(
        self,
        url: str,
        *,
        channel: str = DEFAULT_CHANNEL,
        liveness: float = DEFAULT_LIVENESS,
        max_backlog_bytes: int = 8 * 1024 * 1024,
        batch_bytes: int = 256 * 1024,
    ) -> None:
        scheme = urlsplit(url).scheme
        if scheme not in SCHEMES:
            raise ValueError(f"backplane URL must start with one of {', '.join(s + '://' for s in SCHEMES)}: {url!r}")
        if not liveness > 0 or max_backlog_bytes < 1 or batch_bytes < 1 or not channel:
            raise ValueError(
                f"liveness, max_backlog_bytes and batch_bytes must be positive and channel non-empty, got "
                f"{liveness!r}, {max_backlog_bytes!r}, {batch_bytes!r}, {channel!r}"
            )
        self.url = url
        self.channel = channel
        self.liveness = liveness
        self.max_backlog_bytes = max_backlog_bytes
        self.batch_bytes = batch_bytes
        self.hub_id = uuid.uuid4().hex
        self.stats = BackplaneStats()
        self.core: HubCore | None = None
        self._alive_prefix = f"{channel}:hub:"
        self._redis: Any = None
        self._pubsub: Any = None
        self._claim_script: Any = None
        self._release_script: Any = None
        self._outbox: deque[tuple[str | bytes, str, str | None, str | None, str]] = deque()
        self._backlog_bytes = 0
        self._released: list[str] = []
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._reachable = False
        self._stopping = False
        self._tasks: list[asyncio.Task] = []

    def __repr__(self) -> str:
        return f"<RedisBackplane {redact(self.url)} channel={self.channel!r} hub={self.hub_id[:8]}>"

    @property
    def reachable(self) -> bool:
        """True while Redis answered the last publish or liveness renewal (else messages for other hubs are
        dropped and counted in ``stats.lost``)."""
        return self._reachable

    def summary(self) -> dict[str, Any]:
        """The counters (:class:`BackplaneStats`) and ``reachable``, as JSON-ready plain values."""
        return {**dataclasses.asdict(self.stats), "reachable": self._reachable}

    def _name_key(self, name: str) -> str:
        return f"{self.channel}:name:{name}"

    # -- lifecycle ---------------------------------------------------------------------------------------------

    async def start(self, core: HubCore) -> None:
        """Connect to Redis, subscribe, and attach to ``core`` (its router then publishes what it routes).

        Raises:
            ConnectionError: Redis cannot be reached at ``url`` (the message names it).
            RuntimeError: already started.
        """
        if self.core is not None:
            raise RuntimeError(f"{self!r} is already started")
        self._redis = aioredis.from_url(self.url)
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await self._redis.ping()
            await pubsub.subscribe(self.channel)
        except (RedisError, OSError) as exc:
            await pubsub.aclose()
            await self._redis.aclose()
            raise ConnectionError(f"cannot reach the backplane's Redis at {redact(self.url)}: {exc}") from exc
        self._pubsub = pubsub
        self._claim_script = self._redis.register_script(_CLAIM)
        self._release_script = self._redis.register_script(_RELEASE)
        await self._renew()
        self.core = core
        self._stopping = False
        core.backplane = self
        core.router.backplane = self
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._listen(core, pubsub), name="swergio-backplane-listen"),
            loop.create_task(self._publish_loop(), name="swergio-backplane-publish"),
            loop.create_task(self._keep_alive(), name="swergio-backplane-alive"),
        ]

    async def stop(self) -> None:
        """Detach from the core, release this hub's names and liveness key, and close. Safe to call twice."""
        core, self.core = self.core, None
        if core is None:
            return
        core.backplane = None
        core.router.backplane = None
        self._stopping = True  # each task's loop ends on it too: redis-py may swallow a cancellation mid-command
        self._wake.set()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        _, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
        if pending:  # a listener whose cancellation was swallowed: closing its connection ends its read
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.aclose()
            _, pending = await asyncio.wait(pending, timeout=STOP_TIMEOUT)
        if pending:
            logger.warning("%d backplane tasks did not stop within %g s", len(pending), 2 * STOP_TIMEOUT)
        names = [name for name in map(core.router.name_of, core.router.connections()) if name is not None]
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            await asyncio.wait_for(self._release_all([*names, *self._released]), STOP_TIMEOUT)
        self._released.clear()
        await self._redis.aclose()

    async def _release_all(self, names: list[str]) -> None:
        """Release ``names`` (those this hub holds) and delete this hub's liveness key, in one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                await self._release_script(keys=[self._name_key(name)], args=[self.hub_id], client=pipe)
            pipe.delete(self._alive_prefix + self.hub_id)
            await pipe.execute()

    # -- the core's and the router's hooks ---------------------------------------------------------------------

    def receive(self, core: HubCore, conn: Connection, frame: str | bytes) -> Awaitable[None] | None:
        """:meth:`HubCore.receive` with a backplane: route ``frame``; a first ``REGISTER`` waits for its name to
        be claimed across hubs; the sender waits while too much waits to be published.

        Returns:
            None, or an awaitable: stop reading from ``conn`` until it is done.
        """
        router = core.router
        if router.name_of(conn.id) is None:
            events = router.receive(conn.id, frame)
            name = router.name_of(conn.id)
            if name is None:  # not a registration, or one refused here
                return core.deliver(events, conn)
            return self._claim(core, conn, name, events, frame)
        waiting = core.deliver(router.receive(conn.id, frame), conn)
        if self._backlog_bytes > self.max_backlog_bytes:
            return self._wait_published(waiting)
        return waiting

    def publish(self, frame: str | bytes, sender: str, room: str | None, to: str | None, mtype: str) -> None:
        """Queue a routed, stamped frame for the other hubs (the router's :class:`Backplane` hook); dropped and
        counted in ``stats.lost`` while Redis cannot be reached."""
        if not self._reachable:
            self.stats.lost += 1
            return
        self._outbox.append((frame, sender, room, to, mtype))
        self._backlog_bytes += len(frame)
        if self._backlog_bytes > self.max_backlog_bytes:
            self._drained.clear()
        self._wake.set()

    def release(self, name: str) -> None:
        """``name`` left this hub: queue its release (the router's :class:`Backplane` hook)."""
        self._released.append(name)
        self._wake.set()

    # -- internals ---------------------------------------------------------------------------------------------

    async def _claim(self, core: HubCore, conn: Connection, name: str, events: list, frame: str | bytes) -> None:
        """Claim ``name`` in Redis, then acknowledge the registration, or refuse it as ``name-taken``."""
        try:
            claimed = bool(
                await self._claim_script(keys=[self._name_key(name)], args=[self.hub_id, self._alive_prefix])
            )
        except (RedisError, OSError) as exc:  # Redis is away: the hub goes on alone; names unique here only
            logger.warning("cannot claim the name %r in Redis (%s): unique on this hub only", name, exc)
            claimed = True
        router = core.router
        if router.name_of(conn.id) != name:  # the connection left meanwhile
            self.release(name)
            return
        if not claimed:
            self.stats.refused += 1
            events = router.refuse_name(conn.id, codec.decode(frame, arrays=False).get("ID"))
        waiting = core.deliver(events, conn)
        if waiting is not None:
            await waiting

    async def _release_given_up(self) -> None:
        """Release the names given up since the last time, but not one registered here again meanwhile (a client
        that reconnected to this hub): such a name is held again, whichever of the two reached Redis first."""
        router = self.core.router if self.core is not None else None
        released, self._released = self._released, []
        if router is not None:
            released = [name for name in released if router.conn_of(name) is None]
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for name in released:
                    await self._release_script(keys=[self._name_key(name)], args=[self.hub_id], client=pipe)
                await pipe.execute()
            for name in released:
                if router is not None and router.conn_of(name) is not None:  # registered again while releasing
                    await self._claim_name(name)
        except (RedisError, OSError) as exc:  # they stay held until this hub's liveness key expires
            logger.warning("cannot release %d names in Redis: %s", len(released), exc)

    async def _claim_name(self, name: str) -> bool:
        """Hold ``name`` for this hub unless a live hub holds it; True if this hub holds it now."""
        return bool(await self._claim_script(keys=[self._name_key(name)], args=[self.hub_id, self._alive_prefix]))

    async def _wait_published(self, waiting: Awaitable[None] | None) -> None:
        if waiting is not None:
            await waiting
        await self._drained.wait()

    async def _publish_loop(self) -> None:
        """Publish the outbox in order, in batches of up to ``batch_bytes``; release names given up."""
        outbox, stats = self._outbox, self.stats
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            if self._released:
                await self._release_given_up()
            while outbox:
                batch, size = [], 0
                while outbox and (not batch or size + len(outbox[0][0]) <= self.batch_bytes):
                    entry = outbox.popleft()
                    batch.append(entry)
                    size += len(entry[0])
                try:
                    await self._redis.publish(self.channel, pack_batch(self.hub_id, batch))
                    stats.published += len(batch)
                    stats.batches += 1
                except (RedisError, OSError) as exc:
                    stats.lost += len(batch) + len(outbox)
                    logger.error("cannot publish to Redis (%s): %d messages for other hubs lost", exc, stats.lost)
                    self._reachable = False
                    outbox.clear()
                    self._backlog_bytes = 0
                else:
                    self._backlog_bytes -= size
                if self._backlog_bytes <= self.max_backlog_bytes // 2:
                    self._drained.set()
            self._drained.set()

    async def _keep_alive(self) -> None:
        """Renew the liveness key three times per ``liveness``; after an outage, claim this hub's names again."""
        while not self._stopping:
            await asyncio.sleep(self.liveness / 3)
            await self._renew()

    async def _renew(self) -> None:
        try:
            before = await self._redis.set(self._alive_prefix + self.hub_id, 1, px=int(self.liveness * 1000), get=True)
        except (RedisError, OSError) as exc:
            if self._reachable:
                logger.error("lost Redis (%s): messages for other hubs are dropped until it is back", exc)
            self._reachable = False
            return
        self._reachable = True
        if before is None and self.core is not None:  # our key expired (an outage, or Redis restarted)
            await self._reclaim(self.core)

    async def _reclaim(self, core: HubCore) -> None:
        router = core.router
        for name in [name for name in map(router.name_of, router.connections()) if name is not None]:
            with contextlib.suppress(RedisError, OSError):
                if not await self._claim_name(name):
                    logger.warning("the name %r is now also registered on another hub (taken during an outage)", name)

    async def _listen(self, core: HubCore, pubsub: Any) -> None:
        """Hand every message the other hubs publish to the router, in order; subscribe again if Redis goes."""
        deliver, stats, wait = core.router.deliver, self.stats, 1.0
        while not self._stopping:
            try:
                if pubsub is None:
                    pubsub = self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                    await pubsub.subscribe(self.channel)
                    stats.resubscribed += 1
                    logger.warning("subscribed to Redis again: messages published meanwhile are lost")
                async for message in pubsub.listen():
                    if message["type"] != "message":
                        continue
                    try:
                        hub, batch = unpack_batch(message["data"])
                    except ValueError as exc:  # not what a hub publishes: someone else on the channel
                        logger.error("skipped a message on %r: %s", self.channel, exc)
                        continue
                    if hub == self.hub_id:
                        continue
                    for frame, sender, room, to, mtype in batch:
                        stats.received += 1
                        waiting = core.deliver(deliver(frame, sender, room, to, mtype))
                        if waiting is not None:  # a recipient here is full: Redis holds the rest meanwhile
                            await waiting
                    wait = 1.0
                    if self._stopping:
                        break
                if self._stopping:
                    break
                raise ConnectionError("the subscription ended")
            except (RedisError, OSError) as exc:
                if self._stopping:
                    break
                logger.error("lost the Redis subscription (%s); subscribing again in %.0f s", exc, wait)
                if pubsub is not None:
                    with contextlib.suppress(RedisError, OSError):
                        await pubsub.aclose()
                    pubsub = None
                await asyncio.sleep(wait)
                wait = min(2 * wait, 30.0)
