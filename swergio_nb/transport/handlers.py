"""Running handlers on the event loop: a worker task and a bounded queue per handler.

One handler sees its messages in arrival order; a handler may ``await`` (even a request through the same client)
without stopping the client from receiving; a handler that raises is logged with its traceback and passed to the
error listeners while the others go on. A plain function (not ``async``, not ``in_thread``) whose worker is idle is
called at once, as its frame arrives, and its replies are written at once unless the connection is backed up (then
its worker sends them, in order): no task switch per message. When a handler's queue is full,
:meth:`HandlerRunner.dispatch` returns the wait, and the transport stops reading until it is over (backpressure).
``in_thread`` handlers run in a worker thread so the event loop stays free. Handlers of one ``group`` share a queue and
a worker, so they handle their messages one at a time in arrival order (never inline).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..protocol.endpoint import Endpoint, Handler

__all__ = ["HandlerRunner"]

logger = logging.getLogger(__name__)


@dataclass(slots=True, eq=False)
class _Worker:
    """A running handler's queue and task (``Handler.worker``), or a group's, shared by its handlers."""

    queue: asyncio.Queue
    inline: bool  #: a plain function: may run at once as its frame arrives, when the worker is idle
    task: asyncio.Task | None = None
    busy: bool = False  #: the task is handling an item
    group: str | None = None  #: a group's worker queues (handler, message) pairs; a handler's own, messages
    members: int = 1  #: handlers that use this worker

    def item(self, handler: Handler, msg: dict[str, Any]) -> Any:
        return msg if self.group is None else (handler, msg)


@dataclass(slots=True, eq=False)
class _Continuation:
    """What an inline call left for its worker: an awaitable result, or the replies not sent yet."""

    msg: dict[str, Any]
    result: Any


class HandlerRunner:
    """Runs an endpoint's handlers (see the module docstring).

    Args:
        endpoint: whose handlers run, and who turns their results into replies.
        context: values handed to handlers by parameter name (``Handler.context_keys``).
        queue_size: messages waiting per handler before :meth:`dispatch` asks the transport to wait.
        send: sends a reply, waiting as long as needed (``Client.send``).
        send_now: sends a reply if that needs no waiting; False otherwise (nothing sent).

    Attributes:
        error_listeners: called as ``listener(handler, message, exception)`` when a handler raises.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        context: dict[str, Any],
        queue_size: int,
        send: Callable[[dict[str, Any]], Awaitable[Any]],
        send_now: Callable[[dict[str, Any]], bool],
    ) -> None:
        self.endpoint = endpoint
        self.context = context
        self.queue_size = queue_size
        self.send = send
        self.send_now = send_now
        self.error_listeners: list[Callable[[Handler, dict, BaseException], Any]] = []
        self._groups: dict[str, _Worker] = {}

    def start(self, handler: Handler) -> None:
        """Start ``handler``'s worker, or join its group's (no-op if it runs)."""
        if handler.worker is not None:
            return
        group = handler.group
        if group is not None and group in self._groups:
            handler.worker = self._groups[group]
            handler.worker.members += 1
            return
        inline = group is None and not handler.in_thread and not inspect.iscoroutinefunction(inspect.unwrap(handler.fn))
        worker = _Worker(asyncio.Queue(self.queue_size), inline, group=group)
        label = handler.name if group is None else f"group-{group}"
        worker.task = asyncio.create_task(self._work(worker, handler), name=f"swergio-handler-{label}")
        handler.worker = worker
        if group is not None:
            self._groups[group] = worker

    def stop(self, handler: Handler) -> asyncio.Task | None:
        """Stop ``handler``'s worker (a group's when its last handler stops); returns its task, cancelled (to
        await), or None if it was not running or other handlers of its group still use it."""
        worker, handler.worker = handler.worker, None
        if worker is None or worker.task is None:
            return None
        worker.members -= 1
        if worker.members:
            return None
        if worker.group is not None:
            del self._groups[worker.group]
        worker.task.cancel()
        return worker.task

    def dispatch(self, msg: dict[str, Any], handlers: tuple[Handler, ...]) -> Awaitable[None] | None:
        """Hand ``msg`` to ``handlers``; returns what must be awaited first if a handler's queue is full (the rest
        of the handlers get it after), else None."""
        for handler in handlers:  # no enumerate: the index is needed only on the slow path
            worker = handler.worker
            if worker is None:  # stopped, or removed by a handler that ran before it
                continue
            if worker.inline and not worker.busy and not worker.queue.qsize():
                self._call_inline(handler, msg)
            elif worker.queue.full():
                return self._put_when_room(msg, handlers[handlers.index(handler) :])
            else:
                worker.queue.put_nowait(msg if worker.group is None else (handler, msg))
        return None

    @staticmethod
    async def _put_when_room(msg: dict[str, Any], handlers: tuple[Handler, ...]) -> None:
        for handler in handlers:
            worker = handler.worker
            if worker is not None:
                await worker.queue.put(worker.item(handler, msg))

    def _call_inline(self, handler: Handler, msg: dict[str, Any]) -> None:
        """Run a plain handler now, as its frame arrives; what cannot finish without waiting goes to its worker."""
        handler.calls += 1
        try:
            keys = handler.context_keys
            result = handler.fn(msg, **{k: self.context[k] for k in keys}) if keys else handler.fn(msg)
            if result is None:
                return
            if inspect.isawaitable(result):  # a plain function returned an awaitable: the worker awaits it
                handler.worker.queue.put_nowait(_Continuation(msg, result))
                return
            replies = self.endpoint.replies(handler, msg, result)
            while replies and self.send_now(replies[0]):
                replies.pop(0)
            if replies:  # the connection is backed up: the worker waits for it, in order
                handler.worker.queue.put_nowait(_Continuation(msg, replies))
        except Exception as exc:
            self._failed(handler, msg, exc)

    def _failed(self, handler: Handler, msg: dict[str, Any], exc: Exception) -> None:
        handler.errors += 1
        logger.error(
            "%s: handler %s raised on %s %s", self.endpoint.name, handler.name, msg["TYPE"], msg["ID"], exc_info=exc
        )
        for listener in list(self.error_listeners):
            try:
                listener(handler, msg, exc)
            except Exception:
                logger.exception("%s: error listener raised", self.endpoint.name)

    async def _work(self, worker: _Worker, handler: Handler) -> None:
        queue = worker.queue
        while True:
            item = await queue.get()
            if worker.group is not None:
                handler, item = item
                if handler.worker is not worker:  # stopped or removed since its message was queued
                    continue
            worker.busy = True
            try:
                if type(item) is _Continuation:
                    msg, result = item.msg, item.result
                    replies = result if isinstance(result, list) else self.endpoint.replies(handler, msg, await result)
                else:
                    msg = item
                    handler.calls += 1
                    kwargs = {k: self.context[k] for k in handler.context_keys}
                    if handler.in_thread:
                        result = await asyncio.to_thread(handler.fn, msg, **kwargs)
                    else:
                        result = handler.fn(msg, **kwargs)
                        if inspect.isawaitable(result):
                            result = await result
                    replies = self.endpoint.replies(handler, msg, result)
                for reply in replies:
                    await self.send(reply)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed(handler, msg, exc)
            finally:
                worker.busy = False
