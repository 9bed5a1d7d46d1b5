"""swergio 0.0.2's API over swergio_nb: scripts written for swergio run with their import changed and nothing else.

Change ``from swergio import Client, Trigger, MESSAGE_TYPE, MODEL_STATUS`` to
``from swergio_nb.compat import Client, Trigger, MESSAGE_TYPE, MODEL_STATUS``:

* :data:`MESSAGE_TYPE` and :data:`MODEL_STATUS` have swergio's shape: ``MESSAGE_TYPE.DATA.FORWARD.id`` is the wire
  string ``"DATA/FORWARD"``, ``MODEL_STATUS.TRAIN.id`` the int 1, ``.name``, ``required_fields``,
  ``optional_fields``, ``check_fields()`` and ``by_id()`` as in swergio's ``messageType.py`` (whose table of fields
  is copied here). ``MESSAGE_TYPE.LOG.MESSAGE`` is swergio's name of ``LOG/MESSAGES`` (also reachable as
  ``LOG.MESSAGES``); the types swergio_nb added (``COMMAND.ACK``, ``COMMAND.ROOMS``, ``LOG.TRAFFIC``,
  ``LOG.ERROR``) are there too. Each setting is also a ``str`` (an ``int`` for model statuses) equal to its id, so
  it goes wherever swergio_nb's asyncio API takes a type.
* :class:`Trigger` takes swergio's ``Trigger(types, rooms=None, directmessage=True)`` and matches as swergio did:
  a message of one of ``types`` in one of ``rooms``, or (``directmessage``) addressed to this component by name.
  Without rooms it fires on direct messages only, as in swergio.
* :class:`Client` takes swergio's ``Client(name, server, port, format, header_length, **kwargs)`` and offers
  ``add_eventHandler``, ``join_room``, ``leave_room``, a synchronous ``send`` and a blocking ``listen``. It speaks
  WebSocket to a swergio_nb hub (``swergio-nb hub``), not swergio's TCP framing: ``server`` and ``port`` are the
  hub's WebSocket host and port (``server`` may also be a whole ``ws://`` URL); the token comes from the URL or the
  ``SWERGIO_TOKEN`` environment variable. ``format`` and ``header_length`` are accepted for the signature's sake:
  WebSocket frames carry their own length and JSON is UTF-8. ``**kwargs`` reach handlers by parameter name, as in
  swergio.

How it runs: the client owns an asyncio event loop in a daemon thread, on which an asyncio
:class:`~swergio_nb.transport.client.Client` connects, runs the handlers and sends; the synchronous methods wait for
it. Handlers therefore run in that thread (one at a time, in arrival order, as soon as they are registered) rather
than inside ``listen()``; ``listen()`` blocks until the connection is closed, and raises the first exception a
handler raised (swergio's ``listen()`` ended with it too). A handler's reply follows swergio's rules: ``TYPE`` is
``responseType``, ``TO`` is ``responseComponent``, one copy goes to each of ``responseRooms`` (``TO_ROOM``); the
``ROOT_ID`` and ``MODEL_STATUS`` of the triggering message are carried over and the hub stamps ``SENT_BY``. Unlike
swergio, a reply with a ``responseComponent`` and no ``responseRooms`` is sent (swergio dropped it).

Source of the names and their fields: swergio 0.0.2 on PyPI (``swergio/messageType.py``, ``swergio/client.py``),
by the swergio authors.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import threading
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from .exceptions import NotConnected
from .protocol.messages import MessageType, ModelStatus
from .transport.client import Client as AsyncClient
from .transport.client import Handler
from .transport.client import Trigger as AsyncTrigger

__all__ = [
    "MESSAGE_TYPE",
    "MODEL_STATUS",
    "Client",
    "MessageTypeSetting",
    "ModelStatusSetting",
    "Trigger",
]


class MessageTypeSetting(str):
    """A message type as swergio 0.0.2 spelled it: the wire ``TYPE`` string, with swergio's attributes.

    Args:
        id: the wire string, e.g. ``"DATA/FORWARD"``.
        name: swergio's short name, e.g. ``"FORWARD"``.
        required_fields: fields a message of this type must carry (swergio's table).
        optional_fields: fields it may carry.
    """

    name: str
    required_fields: list[str]
    optional_fields: list[str]

    def __new__(
        cls, id: str, name: str, required_fields: Iterable[str] = (), optional_fields: Iterable[str] = ()
    ) -> MessageTypeSetting:
        setting = super().__new__(cls, id)
        setting.name = name
        setting.required_fields = list(required_fields)
        setting.optional_fields = list(optional_fields)
        return setting

    @property
    def id(self) -> str:
        """The wire string (a plain ``str``), as swergio's ``.id``."""
        return str(self)

    def check_fields(self, msg_content: dict[str, Any]) -> bool:
        """True if ``msg_content`` carries every required field of this type."""
        return all(field in msg_content for field in self.required_fields)

    def __repr__(self) -> str:
        return f"MessageTypeSetting({self.id!r})"


class ModelStatusSetting(int):
    """A ``MODEL_STATUS`` as swergio 0.0.2 spelled it: the int on the wire, with ``.id`` and ``.name``."""

    name: str

    def __new__(cls, id: int, name: str) -> ModelStatusSetting:
        setting = super().__new__(cls, id)
        setting.name = name
        return setting

    @property
    def id(self) -> int:
        """The wire value (a plain ``int``), as swergio's ``.id``."""
        return int(self)

    def __repr__(self) -> str:
        return f"ModelStatusSetting({self.id!r}, {self.name!r})"


#: swergio 0.0.2's required and optional fields per type (``messageType.py``); other types have none.
_SWERGIO_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "DATA/FORWARD": (("DATA",), ("ROOM",)),
    "DATA/GRADIENT": (("DATA",), ("ROOM",)),
    "DATA/REWARD": (("DATA",), ("ROOM",)),
    "DATA/TEXT": (("DATA",), ("ROOM",)),
    "COMMAND/REGISTER": (("NAME",), ()),
    "COMMAND/JOINROOM": (("ROOM",), ()),
    "COMMAND/LEAVEROOM": (("ROOM",), ()),
    "COMMAND/ENABLELOGGING": ((), ("COMPONENT",)),
    "COMMAND/DISABLELOGGING": ((), ("COMPONENT",)),
    "COMMAND/SAVEMODELWEIGHTS": ((), ("WEIGHTS", "COMPONENT")),
    "COMMAND/LOADMODELWEIGHTS": ((), ("WEIGHTS", "COMPONENT")),
    "COMMAND/SAVESETTINGS": (("SETTINGS",), ("COMPONENT",)),
    "COMMAND/LOADSETTINGS": (("SETTINGS",), ("COMPONENT",)),
    "LOG/MODELWEIGHTS": (("WEIGHTS", "COMPONENT"), ("DM",)),
    "LOG/SETTINGS": (("SETTINGS", "COMPONENT"), ("DM",)),
    "LOG/MESSAGES": (("MESSAGE", "SENDER", "ROOM"), ()),
    "LOG/KPI": (("KPI", "COMPONENT", "TIME", "VALUE"), ()),
    "LOG/RUN": (("RUN",), ("TYPE", "STARTTIME", "ENDTIME")),
}


class _MainType:
    """One of swergio's main types (``DATA``, ``COMMAND``, ``LOG``): its settings as class attributes."""

    @classmethod
    def by_id(cls, id: str) -> MessageTypeSetting | None:
        """The setting of this main type whose id is ``id``, or None."""
        setting = getattr(cls, id.partition("/")[2], None) if isinstance(id, str) else None
        return setting if isinstance(setting, MessageTypeSetting) and setting == id else None


def _main_type(prefix: str) -> type[_MainType]:
    settings = {
        t.value[len(prefix) + 1 :]: MessageTypeSetting(
            t.value, t.value[len(prefix) + 1 :], *_SWERGIO_FIELDS.get(t.value, ((), ()))
        )
        for t in MessageType
        if t.value.startswith(f"{prefix}/")
    }
    return type(prefix, (_MainType,), {"__doc__": f"swergio's ``MESSAGE_TYPE.{prefix}`` settings.", **settings})


class MESSAGE_TYPE:  # noqa: N801 - swergio's name
    """swergio's message types: ``MESSAGE_TYPE.DATA.FORWARD.id == "DATA/FORWARD"``, ``MESSAGE_TYPE.by_id(id)``."""

    DATA = _main_type("DATA")
    COMMAND = _main_type("COMMAND")
    LOG = _main_type("LOG")

    @staticmethod
    def by_id(id: str) -> MessageTypeSetting | None:
        """The setting whose id is ``id`` (``"DATA/FORWARD"``), or None for an unknown one."""
        main = getattr(MESSAGE_TYPE, id.partition("/")[0], None) if isinstance(id, str) else None
        return main.by_id(id) if isinstance(main, type) and issubclass(main, _MainType) else None


MESSAGE_TYPE.LOG.MESSAGE = MESSAGE_TYPE.LOG.MESSAGES  # swergio's name of LOG/MESSAGES


class MODEL_STATUS:  # noqa: N801 - swergio's name
    """swergio's model statuses: ``MODEL_STATUS.TRAIN.id == 1``, ``MODEL_STATUS.by_id(id)``."""

    TRAIN = ModelStatusSetting(ModelStatus.TRAIN, "TRAIN")
    VALIDATE = ModelStatusSetting(ModelStatus.VALIDATE, "VALIDATE")

    @staticmethod
    def by_id(id: int) -> ModelStatusSetting | None:
        """The status whose id is ``id``, or None."""
        return {1: MODEL_STATUS.TRAIN, 2: MODEL_STATUS.VALIDATE}.get(id)


class Trigger(AsyncTrigger):
    """swergio's ``Trigger(types, rooms=None, directmessage=True)``.

    Args:
        types: a message type or a list of them (settings of :data:`MESSAGE_TYPE`, or wire strings).
        rooms: a room or a list of rooms whose messages fire it (joined when the handler is added); None: none.
        directmessage: also fire on messages addressed to this component by name (``TO``, no ``TO_ROOM``).
    """

    def __init__(self, types: Any, rooms: str | list[str] | None = None, directmessage: bool = True) -> None:
        super().__init__(types, () if rooms is None else rooms, direct=directmessage)

    @property
    def directmessage(self) -> bool:
        """swergio's name of :attr:`direct`."""
        return self.direct

    def is_triggered(self, message: dict[str, Any]) -> bool:
        """True if ``message`` fires this trigger (swergio's method; a message without ``TO_ROOM`` is direct)."""
        if message.get("TYPE") not in self.types:
            return False
        room = message.get("TO_ROOM")
        return self.direct if room is None else room in self.rooms


def _as_rooms(rooms: str | list[str] | None) -> list[str] | None:
    return None if rooms is None else [rooms] if isinstance(rooms, str) else list(rooms)


def _swergio_reply(
    fn: Callable[..., Any], response_type: Any, response_rooms: list[str] | None, response_component: str | None
) -> Callable[..., Any]:
    """``fn`` whose reply gets swergio's fields: TYPE = responseType, TO = responseComponent, TO_ROOM per room."""
    if inspect.iscoroutinefunction(fn):
        return fn

    @functools.wraps(fn)  # the signature stays fn's: the client hands it the kwargs it names
    def handle(msg: dict[str, Any], **kwargs: Any) -> Any:
        reply = fn(msg, **kwargs)
        if not isinstance(reply, dict):
            return reply
        reply = dict(reply)
        if response_type is not None:
            reply["TYPE"] = str(response_type)
        if response_component is not None:
            reply["TO"] = response_component
        if response_rooms:
            reply.pop("TO_ROOM", None)  # the client sends one copy per room
        return reply

    return handle


class Client:
    """swergio 0.0.2's synchronous client, connected to a swergio_nb hub over WebSocket (see the module docstring).

    Args:
        name: the component's name, unique on the hub.
        server: the hub's host (``"127.0.0.1"``), or its whole URL (``"ws://127.0.0.1:8765/?token=..."``).
        port: the hub's WebSocket port (ignored when ``server`` is a URL).
        format: swergio's text encoding; accepted for its signature (JSON over WebSocket is UTF-8).
        header_length: swergio's length header; accepted for its signature (WebSocket frames carry their length).
        timeout: seconds to wait for the hub to connect and to acknowledge joins.
        **kwargs: values handed to handlers by parameter name, as in swergio (``step_counter=...``).

    Raises:
        OSError: the hub cannot be reached.
        HubError: the hub refused the registration (e.g. the name is taken).

    Attributes:
        client: the asyncio :class:`~swergio_nb.transport.client.Client` doing the work (on :attr:`loop`).
        loop: the event loop, running in a daemon thread of its own.
        eventHandlers: the handlers added, in order.
        kwargs: the values handed to handlers.
    """

    def __init__(
        self,
        name: str,
        server: str,
        port: int | None = None,
        format: str = "utf-8",
        header_length: int = 10,
        *,
        timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        self.name = name
        self.server = server
        self.port = port
        self.format = format
        self.header_length = header_length
        self.timeout = timeout
        self.kwargs = kwargs
        self.eventHandlers: list[Handler] = []  # noqa: N815 - swergio's name
        self._failure: BaseException | None = None
        self._tasks: set[asyncio.Task] = set()  # sends from handlers, closes: referenced until done
        url = server if "://" in server else f"ws://{server}:{port}"
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=f"swergio-compat-{name}", daemon=True)
        self._thread.start()
        try:
            self.client: AsyncClient = self._call(self._connect(url), timeout)
        except BaseException:
            self._stop_loop()
            raise

    async def _connect(self, url: str) -> AsyncClient:
        client = AsyncClient(self.name, url, reconnect=False, timeout=self.timeout)
        client.context.update(self.kwargs)  # (not as keywords: a handler's `token` or `backoff` is not an option)
        client.error_listeners.append(self._handler_failed)
        return await client.connect()

    @property
    def rooms(self) -> frozenset[str]:
        """The rooms the hub has confirmed this client is in."""
        return self.client.rooms_joined

    def _call(self, coro: Coroutine[Any, Any, Any], timeout: float | None = None) -> Any:
        """Run ``coro`` on the client's loop and wait for its result (from any thread but the loop's)."""
        if self.loop.is_closed():
            coro.close()
            raise NotConnected(f"swergio_nb.compat.Client {self.name!r} is closed")
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError(
                f"swergio_nb.compat.Client {self.name!r}: a blocking call from one of its own handlers would wait "
                "for itself; return the message from the handler, or call send(), which does not block there"
            )
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"swergio_nb.compat.Client {self.name!r}: no answer in {timeout} s") from None

    def add_eventHandler(  # noqa: N802 - swergio's name
        self,
        handleFunction: Callable[..., Any],  # noqa: N803
        responseType: Any,  # noqa: N803
        responseRooms: str | list[str] | None = None,  # noqa: N803
        responseComponent: str | None = None,  # noqa: N803
        trigger: Trigger | None = None,
    ) -> Handler | None:
        """Add a handler, joining its trigger's rooms and its response rooms first (swergio's signature).

        Args:
            handleFunction: ``f(msg, **kwargs)`` returning the reply (a dict) or None; it gets the client's
                ``kwargs`` it names as parameters.
            responseType: the reply's ``TYPE`` (a :data:`MESSAGE_TYPE` setting or wire string).
            responseRooms: a room or list of rooms; one copy of the reply goes to each.
            responseComponent: the name of a component the reply goes to (``TO``).
            trigger: which messages fire it; None: it never fires (as in swergio), and only its rooms are joined.

        Returns:
            The registered :class:`~swergio_nb.transport.client.Handler`, or None without a trigger.
        """
        rooms = _as_rooms(responseRooms)
        fn = _swergio_reply(handleFunction, responseType, rooms, responseComponent)

        async def add() -> Handler | None:
            handler = None
            if trigger is not None:
                handler = self.client.add_handler(
                    fn, trigger, reply_type=None if responseType is None else str(responseType), reply_rooms=rooms
                )
            for room in rooms or ():
                await self.client.join_room(room)
            await self.client.ready()
            return handler

        handler = self._call(add(), self.timeout)
        if handler is not None:
            self.eventHandlers.append(handler)
        return handler

    def join_room(self, room: str) -> None:
        """Join ``room``; returns once the hub confirmed."""
        self._call(self.client.join_room(room), self.timeout)

    def leave_room(self, room: str) -> None:
        """Leave ``room``; returns once the hub confirmed."""
        self._call(self.client.leave_room(room), self.timeout)

    def send(self, message: dict[str, Any]) -> None:
        """Send ``message`` (swergio's fields; ``ID`` filled if missing); returns once it is written.

        Called from one of this client's handlers, it does not wait (the handler runs on the loop that sends): the
        message goes out after the handler returns, in order.

        Raises:
            InvalidMessage: the message breaks the protocol (nothing is sent).
            NotConnected: the connection is closed.
        """
        if threading.current_thread() is self._thread:
            self._spawn(self.client.send(message)).add_done_callback(self._sent)
            return
        self._call(self.client.send(message), self.timeout)

    def _sent(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._fail(task.exception())

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """Start ``coro`` on the loop (from its thread), keeping a reference until it is done."""
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _fail(self, exc: BaseException) -> None:
        """Keep the first failure for :meth:`listen` to raise, and close the connection (so ``listen`` returns)."""
        if self._failure is None:
            self._failure = exc
            self._spawn(self.client.close())

    def listen(self) -> None:
        """Block until the connection is closed (by :meth:`close`, the hub, or a failing handler).

        Raises:
            Exception: the first exception a handler raised (the connection is closed then, as in swergio).
        """
        try:
            self._call(self.client.run())
        except KeyboardInterrupt:
            self.close()
            raise
        if self._failure is not None:
            raise self._failure

    def close(self) -> None:
        """Close the connection and stop the client's loop and thread. Safe to call twice."""
        if self.loop.is_closed():
            return
        if threading.current_thread() is self._thread:
            self._spawn(self.client.close())
            return
        self._call(self.client.close(), self.timeout)
        self._call(self._settle(), self.timeout)
        self._stop_loop()

    async def _settle(self) -> None:
        """Let the loop's other tasks end (a :meth:`listen` in another thread returns only once ``run()`` has)."""
        others = asyncio.all_tasks() - {asyncio.current_task()}
        if others:
            await asyncio.wait(others, timeout=self.timeout)

    def _stop_loop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(self.timeout)
        if not self._thread.is_alive():
            self.loop.close()

    def _handler_failed(self, handler: Handler, message: dict[str, Any], exc: BaseException) -> None:
        self._fail(exc)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "connected" if not self.loop.is_closed() and self.client.connected else "closed"
        return f"<swergio_nb.compat.Client {self.name!r} {state}>"
