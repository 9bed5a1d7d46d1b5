"""``client.send(msg)`` with the ``await`` forgotten is an error the user sees, not silence."""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import warnings

import pytest

from swergio_nb import Client, Hub, InvalidMessage, Trigger
from tests.helpers import until


async def test_a_send_never_awaited_is_logged_as_an_error_naming_the_message_and_the_line(caplog):
    async with Hub(port=0) as hub, Client("a", hub.url) as a, Client("b", hub.url) as b:
        got = []
        b.add_handler(got.append, Trigger("DATA/TEXT", "r"))
        await b.ready()
        with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.ERROR):
            warnings.simplefilter("always")
            line = inspect.currentframe().f_lineno + 1
            a.send({"ID": "forgotten", "TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": 1})  # the await forgotten
            gc.collect()
        [record] = [r for r in caplog.records if "never awaited" in r.getMessage()]
        assert record.levelno == logging.ERROR and record.name == "swergio_nb.transport.client"
        text = record.getMessage()
        assert "DATA/TEXT message forgotten" in text and "it was not sent" in text and "await client.send" in text
        assert f"{__file__}:{line}" in text  # where the await is missing
        assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]  # one clear error, not two
        await a.send({"ID": "awaited", "TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": 2})
        await until(lambda: got)
        assert [m["ID"] for m in got] == ["awaited"]  # the forgotten one never left


async def test_send_is_still_a_coroutine_for_asyncio_and_checks_the_message_at_once():
    async with Hub(port=0) as hub, Client("a", hub.url) as a, Client("b", hub.url) as b:
        got = []
        b.add_handler(got.append, Trigger("DATA/TEXT", "r"))
        await b.ready()
        sending = a.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": "task"})
        assert asyncio.iscoroutine(sending)
        sent = await asyncio.create_task(sending)  # create_task, gather, wait_for take it as they take coroutines
        await asyncio.gather(a.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": "gathered"}))
        await until(lambda: len(got) == 2)
        assert got[0]["ID"] == sent["ID"] and [m["DATA"] for m in got] == ["task", "gathered"]
        with pytest.raises(InvalidMessage, match="addresses nobody"):
            a.send({"TYPE": "DATA/TEXT", "DATA": "no address"})  # raised by the call itself: nothing to await
