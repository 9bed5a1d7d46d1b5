"""Regression: the hub's accepted sockets have TCP_NODELAY.

asyncio disables Nagle's algorithm only on sockets whose ``proto`` is IPPROTO_TCP; ``socket.create_server`` (which
the hub binds with) and the sockets it accepts have proto 0, so small frames that followed another waited for the
peer's delayed ACK (~40 ms on Linux): measured as a 40 ms p90 request latency in the bandit example.
"""

from __future__ import annotations

import socket

from swergio_nb.transport._websockets import socket_of
from swergio_nb.transport.client import Client
from swergio_nb.transport.hub import Hub


async def test_accepted_connections_disable_nagle():
    async with Hub(port=0) as hub, Client("a", hub.url) as a, Client("b", hub.url) as b:
        assert a.connected and b.connected
        sockets = [socket_of(conn.link) for conn in hub.core.connections.values()]
        assert len(sockets) == 2
        assert all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in sockets)
