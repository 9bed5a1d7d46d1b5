"""Fuzzing the live hub over real loopback sockets.

Each hypothesis example starts a hub (port 0), two :class:`Client` components (bob echoes what alice sends to room
"pair") and one raw websockets connection that registers and then sends a list of generated bad frames, text and
binary. For every frame the hub must answer that connection with ``LOG/ERROR`` naming the problem (the expected
``ERROR`` code, a ``DETAIL``), the connection must stay open, and alice and bob must keep completing round trips
(checked every few frames and at the end).

Frames the WebSocket layer refuses before the router sees them close only the offending connection: larger than
``max_size`` with 1009, a text frame that is not UTF-8 with 1007.
"""

from __future__ import annotations

import asyncio
import itertools
import json

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from swergio_nb import SENDER, Client, Hub, Trigger
from swergio_nb.protocol.codec import decode

from .strategies import ERROR_CODES, FUZZ_NAME, Case, bad_cases, fuzz_settings, report_frame_counts

#: A round trip between alice and bob after every this many bad frames.
ROUND_TRIP_EVERY = 5
TIMEOUT = 10.0
FRAMES = {"live hub": 0}
_numbers = itertools.count()


@pytest.fixture(scope="module", autouse=True)
def _report_counts(request):
    yield
    report_frame_counts(request, "tests/fuzz/test_hub_fuzz.py", FRAMES)


async def _pair(hub: Hub) -> tuple[Client, Client]:
    """alice, and bob who answers every DATA/TEXT in room "pair" to its sender."""
    bob = Client("bob", hub.url)
    bob.add_handler(
        lambda msg: {"DATA": msg["DATA"]}, Trigger("DATA/TEXT", "pair"), reply_type="DATA/TEXT", reply_to=SENDER
    )
    await bob.connect()
    alice = await Client("alice", hub.url).connect()
    return alice, bob


async def _round_trip(alice: Client) -> None:
    n = next(_numbers)
    reply = await alice.request({"TYPE": "DATA/TEXT", "TO_ROOM": "pair", "DATA": n}, timeout=TIMEOUT)
    assert reply["DATA"] == n and reply["SENT_BY"] == "bob" and reply["TO"] == "alice"


async def _raw(hub: Hub, name: str = FUZZ_NAME) -> ClientConnection:
    """A raw websockets connection registered as ``name``."""
    raw = await connect(hub.url)
    await raw.send(json.dumps({"ID": f"reg-{name}", "TYPE": "COMMAND/REGISTER", "NAME": name}))
    ack = decode(await asyncio.wait_for(raw.recv(), TIMEOUT))
    assert ack["TYPE"] == "COMMAND/ACK" and ack["NAME"] == name
    return raw


async def _answer(raw: ClientConnection, case: Case) -> None:
    await raw.send(case.frame)
    error = decode(await asyncio.wait_for(raw.recv(), TIMEOUT))
    assert error["TYPE"] == "LOG/ERROR" and error["TO"] == FUZZ_NAME, error
    code, detail = error["ERROR"], error["DETAIL"]
    assert code in (case.codes or ERROR_CODES), f"{case!r}: expected {sorted(case.codes)}, got {code}: {detail}"
    assert isinstance(detail, str) and detail.strip()
    if case.hint is not None:
        assert case.hint in detail, f"{case.hint!r} not named in {detail!r}"
    event(f"answer: {code}")


async def _fuzz(cases: list[Case]) -> None:
    async with Hub(port=0) as hub:
        alice, bob = await _pair(hub)
        raw = await _raw(hub)
        try:
            await _round_trip(alice)
            for i, case in enumerate(cases, 1):
                event(case.kind)
                await _answer(raw, case)
                FRAMES["live hub"] += 1
                if i % ROUND_TRIP_EVERY == 0:
                    await _round_trip(alice)
            # still open, still registered, still served
            await raw.send(json.dumps({"ID": "rooms", "TYPE": "COMMAND/ROOMS"}))
            ack = decode(await asyncio.wait_for(raw.recv(), TIMEOUT))
            assert ack["TYPE"] == "COMMAND/ACK" and ack["TABLE"] == {"pair": ["bob"]}
            await _round_trip(alice)
            assert hub.router.stats.errors == len(cases)
            assert hub.stats.slow_consumers == 0 and alice.connected and bob.connected
        finally:
            await raw.close()
            await alice.close()
            await bob.close()


@fuzz_settings(30)
@given(cases=st.lists(bad_cases(wire=True), min_size=10, max_size=40))
def test_live_hub_answers_every_bad_frame_and_the_others_go_on(cases: list[Case]) -> None:
    asyncio.run(asyncio.wait_for(_fuzz(cases), 120))


async def _closed_with(raw: ClientConnection) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(raw.recv(), TIMEOUT)
    assert closed.value.rcvd is not None, "the hub did not send a close frame"
    return closed.value.rcvd.code


async def test_frames_over_max_size_close_that_connection_with_1009_and_the_others_go_on():
    async with Hub(port=0, max_size=4096) as hub:
        alice, bob = await _pair(hub)
        try:
            await _round_trip(alice)
            for frame in (
                '{"ID":"big","TYPE":"DATA/TEXT","TO_ROOM":"pair","DATA":"' + "x" * 5000 + '"}',
                b"\x00" * 4097,
            ):
                raw = await _raw(hub)
                await raw.send(frame)
                assert await _closed_with(raw) == 1009
                await _round_trip(alice)  # the name "fuzz" is free again for the next connection
            assert hub.router.room_table() == {"pair": ["bob"]} and hub.router.conn_of(FUZZ_NAME) is None
            raw = await _raw(hub)  # a frame of exactly max_size is fine
            head = '{"ID":"fits","TYPE":"LOG/CUSTOM","TO":"nobody","PAD":"'
            await raw.send(head + "x" * (4096 - len(head) - 2) + '"}')
            await raw.send(json.dumps({"ID": "rooms", "TYPE": "COMMAND/ROOMS"}))
            assert decode(await asyncio.wait_for(raw.recv(), TIMEOUT))["REPLY_TO"] == "rooms"
            await raw.close()
        finally:
            await alice.close()
            await bob.close()


async def test_a_text_frame_that_is_not_utf8_closes_that_connection_with_1007_and_the_others_go_on():
    async with Hub(port=0) as hub:
        alice, bob = await _pair(hub)
        try:
            raw = await _raw(hub)
            await raw.send(b'{"ID":"\xff","TYPE":"DATA/TEXT","TO_ROOM":"pair"}', text=True)
            assert await _closed_with(raw) == 1007
            await _round_trip(alice)
            assert hub.router.conn_of(FUZZ_NAME) is None
        finally:
            await alice.close()
            await bob.close()
